package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Overhead benchmark: the same network trained twice from the same seed, once
 * with the health monitor and once without, epochs interleaved (A1 B1 A2 B2
 * ...) so that both see the same machine conditions. Prints the seconds of
 * every epoch, the ratio of the medians, and whether both runs ended with
 * identical parameters (they must: a monitor only reads).
 */
@Command(name = "bench-health", mixinStandardHelpOptions = true,
        description = "Seconds per epoch with vs without the health monitor, in one run (ratio).")
public final class BenchCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "mlp", description = "mlp or cnn (default: ${DEFAULT-VALUE}).")
    Models.Kind model;

    @Option(names = "--epochs", defaultValue = "3", description = "Epochs of each run (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train-limit", defaultValue = "0", description = "First N training examples (0 = all).")
    int trainLimit;

    @Option(names = "--every", defaultValue = "10", description = "Health monitor sampling period in iterations (default: ${DEFAULT-VALUE}).")
    int every;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Mixin
    DataOptions dataOptions;


    @Override
    public Integer call() throws Exception {
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        int classes = mnist.numClasses();
        MultiLayerNetwork plain = Models.build(model, 7, mnist.rows(), mnist.cols(), classes);
        MultiLayerNetwork watched = Models.build(model, 7, mnist.rows(), mnist.cols(), classes);
        HealthListener.builder(watched, new InMemoryStatsStorage()).every(every).attach();
        IndexedArrayIterator a = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(batch).shuffle(1).build();
        IndexedArrayIterator b = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(batch).shuffle(1).build();
        double[] without = new double[epochs];
        double[] with = new double[epochs];
        for (int e = 0; e < epochs; e++) {
            long t0 = System.nanoTime();
            plain.fit(a);
            without[e] = (System.nanoTime() - t0) / 1e9;
            t0 = System.nanoTime();
            watched.fit(b);
            with[e] = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "epoch %d: without %.2f s, with health monitor %.2f s%n", e + 1, without[e], with[e]);
        }
        double ratio = median(with) / median(without);
        System.out.printf(Locale.ROOT, "median seconds per epoch: without %.2f, with %.2f; ratio with/without = %.3f (%s, %d examples, every %d iterations)%n",
                median(without), median(with), ratio, model, train.size(), every);
        System.out.println("identical parameters after training: " + plain.params().equals(watched.params()));
        return 0;
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
