package dev.stethoscope.spark;

import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.core.storage.StorageMetaData;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.function.BiConsumer;

/**
 * The router DL4J's Spark training master puts the workers' records into on the driver (one
 * collection of updates per averaging round). It hands the {@link ExampleLogits} batches to the
 * driver's merge and, unless asked to keep them, leaves them out of the storage; everything else
 * goes to the user's router unchanged (worker ids included). Counts what arrives, per worker and
 * per round, for tests and measurements.
 */
final class MergingRouter implements StatsStorageRouter {
    private final StatsStorageRouter target;
    private final BiConsumer<String, ExampleLogits> batches;
    private final boolean keepBatches;
    private final Map<String, Integer> updatesByWorker = new TreeMap<>();
    private final List<Integer> updatesPerDelivery = new ArrayList<>();

    MergingRouter(StatsStorageRouter target, BiConsumer<String, ExampleLogits> batches, boolean keepBatches) {
        this.target = Objects.requireNonNull(target, "target");
        this.batches = Objects.requireNonNull(batches, "batches");
        this.keepBatches = keepBatches;
    }

    StatsStorageRouter target() {
        return target;
    }

    /** Updates received per worker id (the record's worker field), ExampleLogits included. */
    synchronized Map<String, Integer> updatesByWorker() {
        return new TreeMap<>(updatesByWorker);
    }

    /** Number of updates in each delivery (DL4J delivers once per averaging round). */
    synchronized List<Integer> updatesPerDelivery() {
        return new ArrayList<>(updatesPerDelivery);
    }

    @Override
    public void putStorageMetaData(StorageMetaData storageMetaData) {
        target.putStorageMetaData(storageMetaData);
    }

    @Override
    public void putStorageMetaData(Collection<? extends StorageMetaData> storageMetaData) {
        target.putStorageMetaData(storageMetaData);
    }

    @Override
    public void putStaticInfo(Persistable staticInfo) {
        if (keepBatches || !ExampleLogits.TYPE_ID.equals(staticInfo.getTypeID())) {
            target.putStaticInfo(staticInfo);
        }
    }

    @Override
    public void putStaticInfo(Collection<? extends Persistable> staticInfo) {
        List<Persistable> keep = new ArrayList<>(staticInfo.size());
        for (Persistable p : staticInfo) {
            if (keepBatches || !ExampleLogits.TYPE_ID.equals(p.getTypeID())) {
                keep.add(p);
            }
        }
        if (!keep.isEmpty()) {
            target.putStaticInfo(keep);
        }
    }

    @Override
    public void putUpdate(Persistable update) {
        putUpdate(List.of(update));
    }

    @Override
    public void putUpdate(Collection<? extends Persistable> updates) {
        List<Persistable> keep = new ArrayList<>(updates.size());
        synchronized (this) {
            updatesPerDelivery.add(updates.size());
            for (Persistable p : updates) {
                updatesByWorker.merge(String.valueOf(p.getWorkerID()), 1, Integer::sum);
            }
        }
        for (Persistable p : updates) {
            if (p instanceof StethoscopeRecord r && r.holds(ExampleLogits.class)) {
                batches.accept(r.getWorkerID(), r.payload(ExampleLogits.class));
                if (!keepBatches) {
                    continue;
                }
            }
            keep.add(p);
        }
        if (!keep.isEmpty()) {
            target.putUpdate(keep);
        }
    }
}
