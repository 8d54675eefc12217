package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.bench.OverheadRuns;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Overhead benchmark: the same network trained from the same seed, without and
 * with the health monitor, whole runs in ABBA order ({@link OverheadRuns}).
 * Prints the seconds per epoch of every run, the ratio of the medians, and
 * whether all runs ended with identical parameters (they must: a monitor only
 * reads).
 */
@Command(name = "bench-health", mixinStandardHelpOptions = true,
        description = "Seconds per epoch with vs without the health monitor, in one run (ratio).")
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--every", defaultValue = "10", description = "Health monitor sampling period in iterations (default: ${DEFAULT-VALUE}).")
    int every;

    @Mixin
    OverheadOptions run;

    @Mixin
    DataOptions dataOptions;


    @Override
    public Integer call() throws Exception {
        Checks.atLeast("--every", every, 1);
        run.validate();
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), run.trainLimit);
        int classes = mnist.numClasses();
        OverheadRuns.Result res = OverheadRuns.measure((monitored, runEpochs) -> {
            MultiLayerNetwork net = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
            HealthListener l = monitored ? HealthListener.builder(net, new InMemoryStatsStorage()).schedule(Schedule.iterations(every))
                    .failFast(true).attach() : null;
            net.fit(train.iterator(classes, run.batch, true, 1), runEpochs);
            return net;
        }, run.epochs, run.pairs);
        System.out.printf(Locale.ROOT, "health monitor (%s, %d examples, %d epochs per run, every %d iterations): %s%n",
                run.model, train.size(), run.epochs, every, res.summary(run.epochs));
        return 0;
    }
}
