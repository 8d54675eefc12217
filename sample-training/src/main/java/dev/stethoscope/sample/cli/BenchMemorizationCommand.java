package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.probes.memorization.CriticalSamples;
import dev.stethoscope.probes.memorization.CsrResult;
import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.bench.OverheadRuns;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Cost of the memorisation monitor: (1) critical-sample search time per
 * validation example (LASS at the given parameters, on an MLP trained for one
 * epoch); (2) seconds per epoch of the same training with and without the
 * {@link MemorizationListener} at its defaults, whole runs in ABBA order
 * ({@link OverheadRuns}), the ratio of the medians, whether all runs end with
 * identical parameters, and the records the monitor produced in the timed runs.
 */
@Command(name = "bench-memorization", mixinStandardHelpOptions = true,
        description = "CSR cost per validation example and the memorisation monitor's overhead (ratio).")
public final class BenchMemorizationCommand implements Callable<Integer> {
    @Option(names = "--csr-examples", defaultValue = "500", description = "Validation examples for the CSR (default: ${DEFAULT-VALUE}).")
    int csrExamples;

    @Option(names = "--lass-preset", defaultValue = "default", description = "LASS preset: default (r = 4/255, 10 steps) or paper (r = 0.3/255, 100 steps). Default: ${DEFAULT-VALUE}.")
    String lassPreset;

    @Option(names = "--csr-every-epochs", defaultValue = "1", description = "Listener: CSR every K epochs (default: ${DEFAULT-VALUE}).")
    int csrEveryEpochs;

    @Option(names = "--skip-overhead", description = "Only measure the CSR cost.")
    boolean skipOverhead;

    @Option(names = "--sync", description = "Run the monitor's analyses on the training thread (default: background thread).")
    boolean sync;

    @Mixin
    OverheadOptions run;

    @Mixin
    DataOptions dataOptions;


    @Override
    public Integer call() throws Exception {
        Checks.atLeast("--csr-examples", csrExamples, 1);
        Checks.atLeast("--csr-every-epochs", csrEveryEpochs, 1);
        run.validate();
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), run.trainLimit);
        LabeledImages test = mnist.test();
        int classes = mnist.numClasses();
        LassParameters lass = LassParameters.preset(lassPreset); // refuses an unknown preset, listing the valid ones

        // (1) CSR cost per validation example, on a network trained for one epoch
        MultiLayerNetwork net = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
        net.fit(train.iterator(classes, run.batch, true, 1));
        NetworkCopy copy = InputGradients.analysisCopy(net);
        int n = Math.min(csrExamples, test.size());
        INDArray x = test.features().get(NDArrayIndex.interval(0, n), NDArrayIndex.all()).dup();
        CriticalSamples.search(copy, x.get(NDArrayIndex.interval(0, Math.min(32, n)), NDArrayIndex.all()).dup(),
                lass.withMaxIterations(2), 0, false); // warm-up
        // the full search and the certified one, alternating, so their ratio comes from one run
        double[] full = new double[2];
        double[] certified = new double[2];
        CsrResult r = null;
        CsrResult rFull = null;
        for (int rep = 0; rep < 2; rep++) {
            long t0 = System.nanoTime();
            rFull = CriticalSamples.search(copy, x, lass.withCertification(false), n, false);
            full[rep] = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            r = CriticalSamples.search(copy, x, lass, n, false);
            certified[rep] = (System.nanoTime() - t0) / 1e9;
        }
        double s = Math.min(full[0], full[1]);
        double sc = Math.min(certified[0], certified[1]);
        System.out.printf(Locale.ROOT, "CSR on %d validation examples (%s, LASS r=%.5f alpha=%.5f beta=%.5f, up to %d steps): "
                        + "CSR %.4f, %d steps, %.2f s = %.2f ms per example (%.3f ms per example-step)%n",
                n, run.model, lass.radius(), lass.alpha(), lass.beta(), lass.maxIterations(), rFull.criticalSampleRatio(),
                rFull.steps(), s, 1000 * s / n, 1000 * s / n / rFull.steps());
        System.out.printf(Locale.ROOT, "with interval-bound certification: %d of %d examples proved non-critical, CSR %.4f "
                        + "(%d critical; full search %d), %.2f s; certified / full time = %.3f (best of 2 each, alternating)%n",
                r.numCertified(), n, r.criticalSampleRatio(), r.numCritical(), rFull.numCritical(), sc, sc / s);
        if (skipOverhead) {
            return 0;
        }

        // (2) listener overhead at defaults (validation 500, training subset 256, sensitivity every 50 iterations)
        LassParameters lassUsed = lass;
        long[] work = new long[3]; // memorisation records, sensitivity records, CSR milliseconds (timed runs)
        OverheadRuns.Result res = OverheadRuns.measure((monitored, runEpochs) -> {
            MultiLayerNetwork net2 = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            MemorizationListener l = monitored ? MemorizationListener.builder(net2, storage)
                    .training(train.iterator(classes, run.batch, false, 0)).validation(test.iterator(classes, 500, false, 0))
                    .lass(lassUsed).schedule(Schedule.epochs(csrEveryEpochs)).async(!sync).failFast(true).attach() : null;
            net2.fit(train.iterator(classes, run.batch, true, 1), runEpochs);
            if (l != null) {
                l.close(); // includes waiting for the last epoch's analyses
                if (runEpochs == run.epochs) {
                    for (var p : storage.getAllUpdatesAfter(l.sessionId(), Memorization.TYPE_ID, 0)) {
                        work[0]++;
                        work[2] += ((StethoscopeRecord) p).payload(Memorization.class).csrMillis();
                    }
                    work[1] += storage.getAllUpdatesAfter(l.sessionId(), LossSensitivitySample.TYPE_ID, 0).size();
                }
            }
            return net2;
        }, run.epochs, run.pairs);
        System.out.printf(Locale.ROOT, "work done by the monitor in the timed runs: %d memorisation records (CSR %.2f s"
                + " each on average), %d loss-sensitivity records%n", work[0], work[2] / 1000.0 / Math.max(1, work[0]), work[1]);
        System.out.printf(Locale.ROOT, "memorisation monitor (%s, %d examples, %d epochs per run, CSR on 500 validation "
                        + "examples every %d epoch(s), %d LASS steps, %s): %s%n", run.model, train.size(), run.epochs,
                csrEveryEpochs, lass.maxIterations(), sync ? "on the training thread" : "background thread",
                res.summary(run.epochs));
        return 0;
    }

}
