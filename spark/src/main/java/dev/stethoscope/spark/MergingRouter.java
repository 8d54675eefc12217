package dev.stethoscope.spark;

import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.core.storage.StorageMetaData;
import org.deeplearning4j.nn.graph.ComputationGraph;

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
 * goes to the user's router with its worker id. Counts what arrives, per worker and per round, for
 * tests and measurements.
 *
 * <p><b>A graph's worker records get the driver's counts.</b> DL4J (1.0.0-M2.1) builds each round's
 * worker {@code ComputationGraph} from {@code ComputationGraphConfiguration.clone()}, which does not
 * copy the iteration and epoch counts, so a graph's worker listeners see iterations 0, 1, ... of
 * the round and epoch 0 (a {@code MultiLayerNetwork}'s workers see the driver's counts: its
 * configuration's clone keeps them). For a graph this router re-stamps each worker record as its
 * round's delivery arrives, on the driver thread and before DL4J advances the driver's iteration
 * count by {@code averagingFrequency}: epoch = the driver graph's epoch count (the epoch being
 * trained), iteration = the driver graph's iteration count (the round's base, which every worker of
 * the round started from) + the record's round-local iteration, as a {@code MultiLayerNetwork}'s
 * worker reports it; a finding's {@code "step"} range ({@link AssertionFinding#from()},
 * {@link AssertionFinding#to()}) moves by the same base. A record whose iteration is already at or
 * past the base (a DL4J that keeps the counts) is left as it is. Training is not touched: only the
 * records, after the round. Every record reaching this router comes from a worker (the driver's
 * monitors publish to the user's router directly).
 */
final class MergingRouter implements StatsStorageRouter {
    private final StatsStorageRouter target;
    private final BiConsumer<String, ExampleLogits> batches;
    private final boolean keepBatches;
    /** The driver's graph whose counts re-stamp the worker records; null for a MultiLayerNetwork. */
    private final ComputationGraph graph;
    private final Map<String, Integer> updatesByWorker = new TreeMap<>();
    private final List<Integer> updatesPerDelivery = new ArrayList<>();

    MergingRouter(StatsStorageRouter target, BiConsumer<String, ExampleLogits> batches, boolean keepBatches) {
        this(target, batches, keepBatches, null);
    }

    /**
     * A router for the workers of {@code graph} (the driver's network of a {@code SparkComputationGraph}),
     * whose records it re-stamps with the driver's counts; {@code graph} null: records pass unchanged.
     */
    MergingRouter(StatsStorageRouter target, BiConsumer<String, ExampleLogits> batches, boolean keepBatches,
                  ComputationGraph graph) {
        this.target = Objects.requireNonNull(target, "target");
        this.batches = Objects.requireNonNull(batches, "batches");
        this.keepBatches = keepBatches;
        this.graph = graph;
    }

    /**
     * {@code p} with the driver's epoch and the global iteration {@code base + round-local iteration}
     * (the record itself, re-keyed; a finding with a {@code "step"} range becomes a new record with the
     * range moved by {@code base}). A record that is not Stethoscope's, or whose iteration is already
     * {@code >= base}, keeps its iteration (its epoch is still set).
     */
    static Persistable restamp(Persistable p, int epoch, long base) {
        if (!(p instanceof StethoscopeRecord r)) {
            return p;
        }
        boolean local = r.getIteration() < base;
        long iteration = local ? base + r.getIteration() : r.getIteration();
        StethoscopeRecord out = r;
        if (local && r.holds(AssertionFinding.class)) {
            AssertionFinding f = r.payload(AssertionFinding.class);
            if ("step".equals(f.unit())) {
                out = StethoscopeRecord.of(new AssertionFinding(f.detector(), f.severity(), f.message(), f.unit(),
                        f.from() + base, f.to() + base, f.user(), f.action(), f.source(), f.identity(), f.flagged(),
                        f.numClasses(), f.featureShape(), f.examples(), f.checkpoint()));
            }
        }
        out.setKey(r.getSessionID(), r.getWorkerID(), r.getTimeStamp(), epoch, iteration);
        return out;
    }

    /** The delivery with the driver graph's counts (unchanged for a MultiLayerNetwork). */
    private List<Persistable> stamped(Collection<? extends Persistable> records) {
        List<Persistable> out = new ArrayList<>(records.size());
        if (graph == null) {
            out.addAll(records);
            return out;
        }
        int epoch = graph.getEpochCount();
        long base = graph.getConfiguration().getIterationCount();
        for (Persistable p : records) {
            out.add(restamp(p, epoch, base));
        }
        return out;
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
        putStaticInfo(List.of(staticInfo));
    }

    @Override
    public void putStaticInfo(Collection<? extends Persistable> staticInfo) {
        List<Persistable> keep = new ArrayList<>(staticInfo.size());
        for (Persistable p : stamped(staticInfo)) {
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
    public void putUpdate(Collection<? extends Persistable> delivered) {
        List<Persistable> updates = stamped(delivered);
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
