package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.bench.AssertionBench;
import dev.stethoscope.sample.bench.OverheadRuns;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;

/**
 * The model-assertion bench (issue #14): {@link AssertionBench#suite()} (faulty and healthy
 * trainings on MNIST slices, each network given as configuration JSON) and the scores of the
 * built-in detectors against the targets; with {@code --cost}, the assertion monitor's cost as a
 * ratio to bare training ({@link OverheadRuns}: whole runs in ABBA order, wall, process CPU and
 * training-thread CPU).
 */
@Command(name = "bench-assertions", mixinStandardHelpOptions = true,
        description = "Faulty and healthy trainings scored against the assertion detectors' targets; --cost: the monitor's cost ratio.")
public final class BenchAssertionsCommand implements Callable<Integer> {
    @Option(names = "--cases", split = ",", description = "Run only these cases (names as printed; default: all).")
    List<String> cases;

    @Option(names = "--reduced", description = "The reduced suite of the test (5 faulty, 3 healthy).")
    boolean reduced;

    @Option(names = "--variant", defaultValue = "0", description = "0: the calibration suite; k > 0: every seed moved by 100 k and the MNIST slice by 10000 k (a check on runs the thresholds were not calibrated on).")
    int variant;

    @Option(names = "--list", description = "List the cases and exit.")
    boolean list;

    @Option(names = "--configs-out", description = "Write each case's configuration JSON to this folder (train --config FILE reruns it).")
    Path configsOut;

    @Option(names = "--trace", description = "Print every 10th step's signals and each epoch's losses (for calibration).")
    boolean trace;

    @Option(names = "--cost", description = "Measure the monitor's cost instead (the sample MLP; --model, --epochs, --batch, --train-limit, --pairs).")
    boolean cost;

    @Option(names = "--every", defaultValue = "" + AssertionListener.DEFAULT_SAMPLE_EVERY, description = "With --cost: the monitor's schedule, sampled signals every N iterations "
            + "(default: ${DEFAULT-VALUE}, the monitor's default; the loss is read at every iteration).")
    int every;

    @Mixin
    OverheadOptions run;

    @Mixin
    DataOptions dataOptions;

    @Override
    public Integer call() throws Exception {
        if (cost) {
            return cost();
        }
        Checks.atLeast("--variant", variant, 0);
        List<AssertionBench.Case> suite = reduced ? AssertionBench.reduced() : AssertionBench.suite(variant);
        if (cases != null && !cases.isEmpty()) {
            Set<String> names = suite.stream().map(AssertionBench.Case::name).collect(Collectors.toSet());
            for (String c : cases) {
                if (!names.contains(c)) {
                    throw new IllegalArgumentException("Unknown case '" + c + "'; valid: " + String.join(", ",
                            suite.stream().map(AssertionBench.Case::name).toList()));
                }
            }
            suite = suite.stream().filter(c -> cases.contains(c.name())).toList();
        }
        if (list) {
            suite.forEach(c -> System.out.printf(Locale.ROOT, "%s (%s; expected: %s; %d examples, batch %d, %d epochs%s)%n",
                    c.name(), c.healthy() ? "healthy" : "faulty", c.healthy() ? "-" : String.join(", ", c.expected()),
                    c.examples(), c.batch(), c.epochs(), c.fault() == AssertionBench.DataFault.NONE ? "" : ", data fault " + c.fault()));
            return 0;
        }
        if (configsOut != null) {
            Files.createDirectories(configsOut);
            for (AssertionBench.Case c : suite) {
                Files.writeString(configsOut.resolve(c.name() + ".json"), c.json());
            }
            System.out.println("Configurations written to " + configsOut);
        }
        MnistData mnist = dataOptions.load();
        List<AssertionBench.Result> results = new ArrayList<>();
        long t0 = System.nanoTime();
        for (AssertionBench.Case c : suite) {
            AssertionBench.Result r = AssertionBench.run(c, mnist, trace ? System.out : null);
            results.add(r);
            System.out.printf(Locale.ROOT, "%-24s %-7s %5.1f s  fired: %s%n", c.name(), c.healthy() ? "healthy" : "faulty",
                    r.seconds(), r.detectors().isEmpty() ? "none" : String.join(", ", r.detectors()));
        }
        AssertionBench.Summary s = AssertionBench.summarize(results, System.out);
        System.out.printf(Locale.ROOT, "%d runs in %.0f s%n", results.size(), (System.nanoTime() - t0) / 1e9);
        return s.targetsMet() ? 0 : 2;
    }

    private int cost() throws Exception {
        run.validate();
        Checks.atLeast("--every", every, 1);
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), run.trainLimit);
        int classes = mnist.numClasses();
        long[] steps = new long[1];
        java.util.Map<String, Long> byCallback = new java.util.TreeMap<>();
        long[] calls = new long[1];
        long[] floor = new long[1];
        long[] cold = new long[1];
        long[] inside = new long[2]; // CPU nanoseconds inside the listener, training-thread CPU of the monitored runs
        OverheadRuns.Result res = OverheadRuns.measure((monitored, runEpochs) -> {
            MultiLayerNetwork net = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
            IndexedArrayIterator it = train.iterator(classes, run.batch, true, 1);
            if (!monitored) {
                net.fit(it, runEpochs);
                return net;
            }
            AssertionListener l = ModelAssertions.builder(net, new InMemoryStatsStorage())
                    .schedule(Schedule.iterations(every)).plannedEpochs(runEpochs).failFast(true).build();
            Timed timed = new Timed(l);
            net.addListeners(timed);
            long t0 = Timed.CPU.getCurrentThreadCpuTime();
            net.fit(it, runEpochs);
            inside[1] += Timed.CPU.getCurrentThreadCpuTime() - t0;
            inside[0] += timed.nanos;
            timed.byCallback.forEach((k, v) -> byCallback.merge(k, v, Long::sum));
            calls[0] += timed.calls;
            floor[0] += timed.floorNanos;
            cold[0] += timed.coldNanos;
            l.close();
            steps[0] = l.window().stepsSeen();
            return net;
        }, run.epochs, run.pairs);
        System.out.printf(Locale.ROOT, "assertion monitor (%s, every %d iteration(s), %d examples, batch %d, %d epochs per run, "
                + "%d steps seen by the last monitored run): %s%n", run.model, every, train.size(), run.batch, run.epochs,
                steps[0], res.summary(run.epochs));
        System.out.printf(Locale.ROOT, "inside the listener (training-thread CPU time spent in its callbacks, all monitored runs): "
                + "%.3f s of %.3f s, so the monitored training thread's CPU is %.4fx that of its training alone%n",
                inside[0] / 1e9, inside[1] / 1e9, inside[1] / (double) Math.max(1, inside[1] - inside[0]));
        // the clock's reads per callback: warm-up (cold) + first timing read ~ cold[0]; the second timing read and the
        // two floor reads ~ 3 floors, minus the floor's share counted inside; the listener without the clock: inside - floor
        long clockOutside = cold[0] + 2 * floor[0];
        long listener = inside[0] - floor[0];
        System.out.printf(Locale.ROOT, "  the clock's own cost: %d timed callbacks; cold first reads %.3f s, warm read pairs %.3f s; "
                + "without the clock: %.3f s inside the listener of %.3f s, %.4fx%n", calls[0], cold[0] / 1e9,
                floor[0] / 1e9, listener / 1e9, (inside[1] - clockOutside - floor[0]) / 1e9,
                (inside[1] - clockOutside - floor[0]) / (double) Math.max(1, inside[1] - clockOutside - floor[0] - listener));
        System.out.println("  by callback (CPU ms, all monitored runs): " + byCallback.entrySet().stream()
                .map(e -> e.getKey() + "=" + String.format(Locale.ROOT, "%.1f", e.getValue() / 1e6)).toList());
        return 0;
    }

    /** Forwards every callback to the listener, adding up the training thread's CPU time spent in it. */
    static final class Timed extends org.deeplearning4j.optimize.api.BaseTrainingListener {
        static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();
        final AssertionListener l;
        long nanos;
        int forwardPasses;
        /** CPU nanoseconds per callback name. */
        final java.util.Map<String, Long> byCallback = new java.util.TreeMap<>();

        Timed(AssertionListener l) {
            this.l = l;
        }

        /** Timed callbacks so far, and the CPU nanoseconds of as many timed empty bodies (the clock's own cost). */
        long calls;
        long floorNanos;
        /** CPU nanoseconds between the warm-up read and the first timing read (the cold clock, outside the listener). */
        long coldNanos;
        private boolean sampled;

        private void timed(String name, Runnable r) {
            long a = CPU.getCurrentThreadCpuTime(); // the clock's first read after native work is slow (cold): not the listener's
            long t = CPU.getCurrentThreadCpuTime();
            coldNanos += t - a;
            r.run();
            long d = CPU.getCurrentThreadCpuTime() - t;
            nanos += d;
            calls++;
            byCallback.merge(name + (sampled ? " [sampled step]" : " [light step]"), d, Long::sum);
            // the same two clock reads around nothing, in situ: what the measurement itself adds to d
            long f = CPU.getCurrentThreadCpuTime();
            floorNanos += CPU.getCurrentThreadCpuTime() - f;
        }

        private void step(org.deeplearning4j.nn.api.Model m) {
            long it = m instanceof org.deeplearning4j.nn.multilayer.MultiLayerNetwork n ? n.getIterationCount()
                    : ((org.deeplearning4j.nn.graph.ComputationGraph) m).getIterationCount();
            sampled = l.schedule().dueAtIteration(it);
        }

        @Override
        public void onEpochStart(org.deeplearning4j.nn.api.Model m) {
            timed("onEpochStart", () -> l.onEpochStart(m));
        }

        @Override
        public void onEpochEnd(org.deeplearning4j.nn.api.Model m) {
            timed("onEpochEnd", () -> l.onEpochEnd(m));
        }

        @Override
        public void onForwardPass(org.deeplearning4j.nn.api.Model m, List<org.nd4j.linalg.api.ndarray.INDArray> a) {
            // the first batch also runs the configuration lint, the input-range check and the run's static record
            step(m);
            timed(forwardPasses++ == 0 ? "onForwardPass(first batch)" : "onForwardPass", () -> l.onForwardPass(m, a));
        }

        @Override
        public void onGradientCalculation(org.deeplearning4j.nn.api.Model m) {
            timed("onGradientCalculation", () -> l.onGradientCalculation(m));
        }

        @Override
        public void iterationDone(org.deeplearning4j.nn.api.Model m, int i, int e) {
            timed("iterationDone", () -> l.iterationDone(m, i, e));
        }
    }
}
