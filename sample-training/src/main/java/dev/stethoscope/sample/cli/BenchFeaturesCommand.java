package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.dataset.DataSet;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.Callable;

/**
 * Cost and findings of the feature-evolution monitor ({@link FeatureEvolutionListener}) in one process: trains the
 * sample's model with the monitor (default settings, a snapshot after every epoch, the 2-D projection on the first
 * {@code --projection-points} test images) and, with {@code --compare}, a second network from the same seed without
 * it, one epoch of each in turn (ABAB). Per monitored epoch it prints the monitor's own in-process timers as shares
 * of the epoch (streaming inside the training passes; the snapshot at the epoch's end), the process CPU of the
 * monitored and the bare epoch, then per layer the fraction of units whose top-1 example changed by epoch, the
 * settled-at epoch, the projection's alignment errors, and whether both networks end with identical parameters.
 */
@Command(name = "bench-features", mixinStandardHelpOptions = true,
        description = "Feature evolution: the monitor's share of each epoch (in-process timers), exemplar changes per "
                + "layer by epoch, parameters with vs without it.")
public final class BenchFeaturesCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "cnn", description = "mlp, cnn or resnet (default: ${DEFAULT-VALUE}).")
    Models.Kind model;

    @Option(names = "--epochs", defaultValue = "2", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train-limit", defaultValue = "0", description = "First N training examples (0 = all).")
    int trainLimit;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights and shuffling (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--every", defaultValue = "1", description = "A snapshot every K epochs (default: ${DEFAULT-VALUE}).")
    int every;

    @Option(names = "--projection-points", defaultValue = "2000",
            description = "First N test images as the 2-D projection's probe set (0 = no projection; default: ${DEFAULT-VALUE}).")
    int projectionPoints;

    @Option(names = "--out", paramLabel = "FILE",
            description = "Also keep the records in this stats file (FileStatsStorage; for `view` and page sizes).")
    java.io.File out;

    @Option(names = "--compare", description = "Also train a bare network from the same seed, epochs alternating.")
    boolean compare;

    @Mixin
    DataOptions dataOptions;

    @Override
    public Integer call() throws Exception {
        Checks.atLeast("--epochs", epochs, 1);
        Checks.atLeast("--train-limit", trainLimit, 0);
        Checks.atLeast("--batch", batch, 1);
        Checks.atLeast("--every", every, 1);
        Checks.atLeast("--projection-points", projectionPoints, 0);
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        int classes = mnist.numClasses();
        IndexedArrayIterator it = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(batch).shuffle(seed).build();
        Model net = Models.buildModel(model, seed, mnist.rows(), mnist.cols(), classes);
        org.deeplearning4j.core.storage.StatsStorage storage = out == null ? new InMemoryStatsStorage()
                : new org.deeplearning4j.ui.model.storage.FileStatsStorage(out);
        FeatureEvolutionListener.Builder b = FeatureEvolutionListener.builder(net, storage)
                .schedule(Schedule.epochs(every)).failFast(true);
        if (projectionPoints > 0) {
            LabeledImages test = DataOptions.limit(mnist.test(), projectionPoints);
            b.projectionData(new DataSet(test.features(), test.oneHotLabels(classes)));
        }
        FeatureEvolutionListener l = b.attach();
        Model bare = null;
        IndexedArrayIterator bareIt = null;
        if (compare) {
            bare = Models.buildModel(model, seed, mnist.rows(), mnist.cols(), classes);
            bareIt = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                    .batchSize(batch).shuffle(seed).build();
        }
        System.out.printf(Locale.ROOT, "feature evolution, %s, %d training examples, batch %d, %d epochs, snapshot "
                        + "every %d, projection on %d test images, layers %s%n", model, train.size(), batch, epochs,
                every, projectionPoints, java.util.Arrays.toString(l.layers()));
        System.out.println("epoch | epoch wall s | streaming % of epoch (wall) | snapshot s (of which projection) |"
                + " snapshot % of epoch (wall, training part) | training-thread CPU s | streaming % of it |"
                + " snapshot % of it (training part) | process CPU s monitored | process CPU s bare | CPU ratio");
        long heldAfter = 0;
        String heldText = "";
        ProcessCpu loop = new ProcessCpu();
        for (int e = 1; e <= epochs; e++) {
            double bareCpu = Double.NaN;
            if (bare != null) {
                long c0 = loop.cpu();
                fit(bare, bareIt);
                bareCpu = (loop.cpu() - c0) / 1e9;
            }
            long s0 = l.streamNanos();
            long n0 = l.snapshotNanos();
            long p0 = l.projectionNanos();
            long sc0 = l.streamCpuNanos();
            long nc0 = l.snapshotCpuNanos();
            long c0 = loop.cpu();
            long tc0 = loop.threadCpu();
            long t0 = System.nanoTime();
            fit(net, l.track(it));
            double wall = (System.nanoTime() - t0) / 1e9;
            double cpu = (loop.cpu() - c0) / 1e9;
            double tcpu = (loop.threadCpu() - tc0) / 1e9;
            double stream = (l.streamNanos() - s0) / 1e9;
            double snap = (l.snapshotNanos() - n0) / 1e9;
            double proj = (l.projectionNanos() - p0) / 1e9;
            double streamCpu = (l.streamCpuNanos() - sc0) / 1e9;
            double snapCpu = (l.snapshotCpuNanos() - nc0) / 1e9;
            double trainingPart = wall - snap;
            double trainingCpu = tcpu - snapCpu;
            System.out.printf(Locale.ROOT, "%d | %.1f | %.2f | %.2f (%.2f) | %.2f | %.1f | %.2f | %.2f | %.1f | %.1f | %.3f%n",
                    e, wall, 100 * stream / trainingPart, snap, proj, 100 * snap / trainingPart, tcpu,
                    100 * streamCpu / trainingCpu, 100 * snapCpu / trainingCpu, cpu, bareCpu, cpu / bareCpu);
            heldAfter = l.heldInputBytes();
            heldText = String.format(Locale.ROOT, "%d B (%d crops, %d whole rows)", heldAfter, l.heldCrops(),
                    l.heldWholeInputs());
        }
        System.out.printf(Locale.ROOT, "inputs kept for the top-k after the last epoch: %s; stated bound %d B (%s)%n",
                heldText, l.heldInputBoundBytes(), l.heldInputBoundText());
        l.close();
        System.out.printf(Locale.ROOT, "monitor errors: %d%n", l.errorCount());
        if (bare != null) {
            System.out.println("parameters identical with and without the monitor: " + net.params().equals(bare.params()));
        }
        TreeMap<String, TreeMap<Integer, FeatureSnapshot>> byLayer = new TreeMap<>();
        List<FeatureProjection> projections = new ArrayList<>();
        for (Persistable p : storage.getAllUpdatesAfter(l.sessionId(), FeatureSnapshot.TYPE_ID, 0)) {
            FeatureSnapshot s = ((StethoscopeRecord) p).payload(FeatureSnapshot.class);
            byLayer.computeIfAbsent(String.format(Locale.ROOT, "%d:%s", s.layer(), s.layerName()), x -> new TreeMap<>())
                    .put(s.snapshotEpoch(), s);
        }
        java.util.Set<Long> lastExamples = new java.util.HashSet<>();
        for (TreeMap<Integer, FeatureSnapshot> m : byLayer.values()) {
            FeatureSnapshot last = m.lastEntry().getValue();
            if (last.snapshotEpoch() == epochs) {
                last.units().forEach(u -> java.util.Arrays.stream(u.examples()).forEach(lastExamples::add));
            }
        }
        long rowBytes = (long) mnist.rows() * mnist.cols() * (net instanceof ComputationGraph g
                ? g.getConfiguration().getDataType() : ((MultiLayerNetwork) net).getLayerWiseConfigurations().getDataType()).width();
        System.out.printf(Locale.ROOT, "whole input rows of every top-k example of the last snapshot (what was kept "
                + "before crops): %d examples x %d B = %d B%n", lastExamples.size(), rowBytes, lastExamples.size() * rowBytes);
        for (Persistable p : storage.getAllUpdatesAfter(l.sessionId(), FeatureProjection.TYPE_ID, 0)) {
            projections.add(((StethoscopeRecord) p).payload(FeatureProjection.class));
        }
        TreeSet<Integer> snapEpochs = new TreeSet<>();
        byLayer.values().forEach(m -> snapEpochs.addAll(m.keySet()));
        StringBuilder head = new StringBuilder("fraction of units whose top-1 example changed | units");
        snapEpochs.forEach(e -> head.append(" | ").append(e));
        head.append(" | settled at");
        System.out.println(head);
        byLayer.forEach((name, m) -> {
            StringBuilder row = new StringBuilder(name).append(" | ").append(m.firstEntry().getValue().units().size());
            for (int e : snapEpochs) {
                FeatureSnapshot s = m.get(e);
                row.append(" | ").append(s == null || Double.isNaN(s.changedFraction()) ? "-"
                        : String.format(Locale.ROOT, "%.2f", s.changedFraction()));
            }
            row.append(" | ").append(m.lastEntry().getValue().settledAt());
            System.out.println(row);
        });
        StringBuilder overlap = new StringBuilder("mean top-9 overlap with the previous snapshot (same layers, same epochs)");
        System.out.println(overlap);
        byLayer.forEach((name, m) -> {
            StringBuilder row = new StringBuilder(name);
            for (int e : snapEpochs) {
                FeatureSnapshot s = m.get(e);
                row.append(" | ").append(s == null || Double.isNaN(s.meanOverlap()) ? "-"
                        : String.format(Locale.ROOT, "%.2f", s.meanOverlap()));
            }
            System.out.println(row);
        });
        for (FeatureProjection p : projections) {
            System.out.printf(Locale.ROOT, "projection %s epoch %d: %d points, explained %.3f + %.3f, RMS distance to "
                            + "the previous snapshot aligned %.4f, unaligned %.4f%n", p.layerName(), p.snapshotEpoch(),
                    p.size(), p.explained()[0], p.explained()[1], p.alignedError(), p.unalignedError());
        }
        storage.close();
        return 0;
    }

    /** One epoch of either kind of network. */
    private static void fit(Model net, org.nd4j.linalg.dataset.api.iterator.DataSetIterator it) {
        if (net instanceof ComputationGraph g) {
            g.fit(it);
        } else {
            ((MultiLayerNetwork) net).fit(it);
        }
    }

    /** Process and training-thread CPU time. */
    private static final class ProcessCpu {
        private final com.sun.management.OperatingSystemMXBean os =
                (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();

        long cpu() {
            return os.getProcessCpuTime();
        }

        long threadCpu() {
            return ManagementFactory.getThreadMXBean().getCurrentThreadCpuTime();
        }
    }
}
