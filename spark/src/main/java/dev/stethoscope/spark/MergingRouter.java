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

    /**
     * With the CPU accounting on: the CPU time and bytes of Java-serialising one delivery's records,
     * as each worker does to send them back with its round's result (measured again here on the driver,
     * where the records arrive; the worker's own serialisation happens inside DL4J and Spark).
     */
    private static void measureSerialisation(Collection<? extends Persistable> updates) {
        long t = dev.stethoscope.listeners.core.CpuAccounting.start();
        long[] bytes = new long[1];
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(new java.io.OutputStream() {
            @Override
            public void write(int b) {
                bytes[0]++;
            }

            @Override
            public void write(byte[] b, int off, int len) {
                bytes[0] += len;
            }
        })) {
            out.writeObject(new ArrayList<>(updates));
        } catch (java.io.IOException | RuntimeException e) {
            return;
        }
        dev.stethoscope.listeners.core.CpuAccounting.add("driver: Java serialisation of a delivery's records (as a worker does)", t);
        synchronized (SERIALISED) {
            SERIALISED[0] += bytes[0];
            SERIALISED[1]++;
        }
    }

    /** Bytes serialised and deliveries measured by {@link #measureSerialisation} (accounting on). */
    static final long[] SERIALISED = new long[2];

    /** Bytes of Java serialisation per delivery measured so far (accounting on), or -1. */
    static double serialisedBytesPerDelivery() {
        synchronized (SERIALISED) {
            return SERIALISED[1] == 0 ? -1 : SERIALISED[0] / (double) SERIALISED[1];
        }
    }

    @Override
    public void putUpdate(Persistable update) {
        putUpdate(List.of(update));
    }

    @Override
    public void putUpdate(Collection<? extends Persistable> updates) {
        List<Persistable> keep = new ArrayList<>(updates.size());
        if (dev.stethoscope.listeners.core.CpuAccounting.enabled()) {
            measureSerialisation(updates);
        }
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
