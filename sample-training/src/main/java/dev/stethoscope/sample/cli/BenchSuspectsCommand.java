package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.bench.OverheadRuns;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Overhead of the {@link TrainingDynamicsListener} at its defaults (logits taken
 * from the training forward pass, top-K suspects and the full table published at
 * every epoch end): whole training runs without and with it from the same seed, in
 * ABBA order ({@link OverheadRuns}), on MNIST with injected label noise (so the
 * listener's feature cache sees realistic traffic). Prints the ratio of the median
 * seconds per epoch, the time inside the listener's capture and epoch-end work, and
 * whether all runs end with identical parameters.
 */
@Command(name = "bench-suspects", mixinStandardHelpOptions = true,
        description = "Seconds per epoch with vs without the suspects (training dynamics) monitor, in one run (ratio).")
public final class BenchSuspectsCommand implements Callable<Integer> {
    @Option(names = "--label-noise", defaultValue = "0.2", description = "Fraction of training labels flipped (default: ${DEFAULT-VALUE}).")
    double labelNoise;

    @Mixin
    OverheadOptions run;

    @Mixin
    DataOptions dataOptions;

    @Option(names = "--sync", description = "Run the listener's updates on the training thread (default: background thread).")
    boolean sync;

    @Override
    public Integer call() throws Exception {
        Checks.inRange("--label-noise", labelNoise, 0, 1, true);
        run.validate();
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), run.trainLimit);
        int classes = mnist.numClasses();
        LabelNoise.Result noise = LabelNoise.flip(train.labelValues(), classes, labelNoise, 42);
        INDArray x = train.features();
        INDArray y = DataConversion.oneHot(noise.labels(), classes);
        long[] flipped = Arrays.stream(noise.flippedIndices()).asLongStream().toArray();
        double[] capture = new double[3];
        OverheadRuns.Result res = OverheadRuns.measure((monitored, runEpochs) -> {
            MultiLayerNetwork net = Models.build(run.model, 7, mnist.rows(), mnist.cols(), classes);
            IndexedArrayIterator it = IndexedArrayIterator.builder(x, y).batchSize(run.batch).shuffle(1).build();
            if (!monitored) {
                net.fit(it, runEpochs);
                return net;
            }
            TrainingDynamicsListener l = TrainingDynamicsListener.builder(net, new InMemoryStatsStorage())
                    .numExamples(train.size()).flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols())
                    .async(!sync).failFast(true).attach();
            net.fit(l.track(it), runEpochs);
            l.close(); // a monitored run includes finishing its background work
            capture[0] += l.captureNanos() / 1e9 / runEpochs;
            capture[1] += l.epochEndNanos() / 1e9 / runEpochs;
            capture[2] += l.trainingThreadNanos() / 1e9 / runEpochs;
            return net;
        }, run.epochs, run.pairs);
        System.out.printf(Locale.ROOT, "suspects monitor (%s, %d examples, %.0f%% label noise, %d epochs per run): %s;"
                        + " inside the listener per epoch (mean over monitored runs, warm-up included): capture %.2f s,"
                        + " epoch-end work %.2f s (%s), of which on the training thread %.2f s%n", run.model, train.size(),
                100 * labelNoise, run.epochs, res.summary(run.epochs), capture[0] / (run.pairs + 1),
                capture[1] / (run.pairs + 1), sync ? "all on the training thread" : "on the background thread",
                capture[2] / (run.pairs + 1));
        return 0;
    }
}
