package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.TestNets;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.nd4j.linalg.dataset.DataSet;

import java.util.Locale;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Cost of the assertion listener at its default schedule (every iteration) as a ratio to bare
 * training, alternating bare and monitored epochs in one JVM: an MNIST-sized MLP (784-256-128-10,
 * batch 128, 40 batches an epoch). A measurement, not a default test: run with
 * {@code -Dassertions.cost=true}; the ratio goes to docs/ASSERTIONS.md.
 */
@EnabledIfSystemProperty(named = "assertions.cost", matches = "true")
class AssertionCostTest {
    static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();

    /** Forwards every callback to the listener, adding up the training thread's CPU time spent in it. */
    static final class Timed extends org.deeplearning4j.optimize.api.BaseTrainingListener {
        final AssertionListener l;
        long nanos;

        Timed(AssertionListener l) {
            this.l = l;
        }

        final java.util.Map<String, Long> by = new java.util.TreeMap<>();

        private void timed(String name, Runnable r) {
            long t = CPU.getCurrentThreadCpuTime();
            r.run();
            long d = CPU.getCurrentThreadCpuTime() - t;
            nanos += d;
            by.merge(name, d, Long::sum);
        }

        @Override
        public void onEpochStart(org.deeplearning4j.nn.api.Model m) { timed("onEpochStart", () -> l.onEpochStart(m)); }
        @Override
        public void onEpochEnd(org.deeplearning4j.nn.api.Model m) { timed("onEpochEnd", () -> l.onEpochEnd(m)); }
        @Override
        public void onForwardPass(org.deeplearning4j.nn.api.Model m, java.util.List<org.nd4j.linalg.api.ndarray.INDArray> a) { timed("onForwardPass", () -> l.onForwardPass(m, a)); }
        @Override
        public void onGradientCalculation(org.deeplearning4j.nn.api.Model m) { timed("onGradientCalculation", () -> l.onGradientCalculation(m)); }
        @Override
        public void iterationDone(org.deeplearning4j.nn.api.Model m, int i, int e) { timed("iterationDone", () -> l.iterationDone(m, i, e)); }
    }

    @Test
    void costRatioPerEpoch() {
        measure(dev.stethoscope.listeners.core.Schedule.iterations(1));
        measure(dev.stethoscope.listeners.core.Schedule.iterations(10));
    }

    private static void measure(dev.stethoscope.listeners.core.Schedule schedule) {
        DataSet data = TestNets.blobs(1, 128 * 40, 784, 10);
        MultiLayerNetwork net = TestNets.mlp(1, 784, 256, 128, 10);
        AssertionListener l = ModelAssertions.builder(net, new InMemoryStatsStorage()).schedule(schedule).build();
        Timed timed = new Timed(l);
        net.setListeners(timed);
        ListDataSetIterator<DataSet> it = new ListDataSetIterator<>(data.asList(), 128);
        net.fit(it, 1); // warm-up
        timed.nanos = 0;
        long t0 = CPU.getCurrentThreadCpuTime();
        net.fit(it, 4);
        long total = CPU.getCurrentThreadCpuTime() - t0;
        l.close();
        double ratio = (double) total / (total - timed.nanos);
        System.out.printf(Locale.ROOT, "assertion listener, %s: %.3fx the training thread's CPU time of bare"
                + " training (listener %.1f %% of the monitored epochs; %d steps seen)%n", schedule, ratio, 100.0 * timed.nanos / total,
                l.window().stepsSeen());
        System.out.println("  by callback (ms): " + timed.by.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue() / 1_000_000).toList());
        assertThat(ratio).isGreaterThan(1.0);
    }
}
