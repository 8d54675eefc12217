package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.Attributor;
import dev.stethoscope.probes.attribution.Attributors;
import dev.stethoscope.probes.attribution.DeletionCurve;
import dev.stethoscope.probes.attribution.LogitNetwork;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Attribution benchmarks on MNIST: (1) Integrated Gradients at 50 steps for one example against one
 * forward+backward pass of a batch of 50 (DL4J's calculateGradients with the model's own loss); (2) each
 * method's cost per example; (3) AOPC of each method's deletion curve on test examples against random
 * orderings. Models are trained briefly first (attribution cost does not depend on training, AOPC does).
 */
@Command(name = "bench-attribution", mixinStandardHelpOptions = true,
        description = "Attribution cost (IG vs forward+backward, per-method ms/example) and AOPC vs random order.")
public final class BenchAttributionCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "mlp", description = "mlp or cnn (default: ${DEFAULT-VALUE}).")
    Models.Kind model;

    @Option(names = "--train-limit", defaultValue = "10000", description = "Training examples for the brief training (default: ${DEFAULT-VALUE}).")
    int trainLimit;

    @Option(names = "--epochs", defaultValue = "1", description = "Training epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--repeats", defaultValue = "7", description = "Timed repeats, median reported (default: ${DEFAULT-VALUE}).")
    int repeats;

    @Option(names = "--cost-examples", defaultValue = "10", description = "Examples per timed attribution call (default: ${DEFAULT-VALUE}).")
    int costExamples;

    @Option(names = "--aopc-examples", defaultValue = "100", description = "Test examples for AOPC, 0 to skip (default: ${DEFAULT-VALUE}).")
    int aopcExamples;

    @Option(names = "--aopc-steps", defaultValue = "20", description = "Deletion steps (default: ${DEFAULT-VALUE}).")
    int aopcSteps;

    @Option(names = "--random-repeats", defaultValue = "5", description = "Random orderings averaged (default: ${DEFAULT-VALUE}).")
    int randomRepeats;

    @Option(names = "--methods", split = ",", description = "Methods (default: all that apply to the model).")
    List<String> methods;

    @Mixin
    DataOptions dataOptions;


    @Override
    public Integer call() throws Exception {
        Checks.atLeast("--train-limit", trainLimit, 0);
        Checks.atLeast("--epochs", epochs, 1);
        Checks.atLeast("--repeats", repeats, 1);
        Checks.atLeast("--cost-examples", costExamples, 1);
        Checks.atLeast("--aopc-examples", aopcExamples, 0);
        Checks.atLeast("--aopc-steps", aopcSteps, 1);
        Checks.atLeast("--random-repeats", randomRepeats, 1);
        dataOptions.validate();
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        int classes = mnist.numClasses();
        MultiLayerNetwork net = Models.build(model, 7, mnist.rows(), mnist.cols(), classes);
        IndexedArrayIterator it = IndexedArrayIterator.builder(train.features(), train.oneHotLabels(classes))
                .batchSize(128).shuffle(1).build();
        long t0 = System.nanoTime();
        net.fit(it, epochs);
        INDArray testX = DataConversion.features(mnist.test().images(), 0, Math.max(aopcExamples, Math.max(costExamples, 50)));
        int[] testY = Arrays.copyOf(mnist.test().labelValues(), (int) testX.size(0));
        System.out.printf(Locale.ROOT, "%s trained on %d examples x %d epoch(s) in %.1f s%n", model, train.size(), epochs,
                (System.nanoTime() - t0) / 1e9);

        NetworkCopy copy = NetworkCopy.of(net);
        LogitNetwork ln = new LogitNetwork(copy);
        Attributors.Options opt = Attributors.Options.defaults();
        List<String> names = methods != null ? methods : defaultMethods();

        // (1) IG 50 steps, one example, vs one forward+backward of a batch of 50
        INDArray one = testX.getRows(0);
        int[] t1 = {ln.logits(one, 1).argMax(1).getInt(0)};
        Attributor ig = Attributors.create("ig", ln, opt.withSteps(50));
        MultiLayerNetwork fb = copy.multiLayer();
        INDArray x50 = testX.getRows(range(50));
        INDArray y50 = DataConversion.oneHot(Arrays.copyOf(testY, 50), classes);
        double igMs = medianMs(() -> ig.attribute(one, t1));
        double fbMs = medianMs(() -> fb.calculateGradients(x50, y50, null, null));
        System.out.printf(Locale.ROOT, "IG 50 steps, 1 example: %.2f ms; forward+backward, batch 50: %.2f ms; ratio %.3f (target <= 1.5)%n",
                igMs, fbMs, igMs / fbMs);

        // (2) cost per example
        INDArray xc = testX.getRows(range(costExamples));
        int[] tc = ln.logits(xc, 128).argMax(1).toIntVector();
        List<Attributor> attributors = new ArrayList<>();
        for (String m : names) {
            attributors.add(Attributors.create(m, ln, opt));
        }
        for (Attributor a : attributors) {
            double ms = medianMs(() -> a.attribute(xc, tc)) / costExamples;
            System.out.printf(Locale.ROOT, "cost %-16s %9.2f ms/example (%.2f x forward+backward of one example in a batch of 50)%n",
                    a.name(), ms, ms / (fbMs / 50));
        }

        // (3) AOPC vs random ordering
        if (aopcExamples > 0) {
            INDArray xa = testX.getRows(range(aopcExamples));
            int[] ta = ln.logits(xa, 128).argMax(1).toIntVector();
            DeletionCurve dc = new DeletionCurve(ln, 256, aopcSteps, 0.0);
            DeletionCurve.Result rnd = dc.random(xa, ta, randomRepeats, 11L);
            System.out.printf(Locale.ROOT, "AOPC over %d test examples, %d deletion steps, fill 0 (random order: mean of %d)%n",
                    aopcExamples, aopcSteps, randomRepeats);
            System.out.printf(Locale.ROOT, "AOPC %-16s %8.4f +- %.4f%n", "random", rnd.meanAopc(), sd(rnd.aopc()));
            for (Attributor a : attributors) {
                Attribution at = a.attribute(xa, ta);
                DeletionCurve.Result r = dc.evaluate(xa, at.maps(), ta);
                System.out.printf(Locale.ROOT, "AOPC %-16s %8.4f +- %.4f  (x%.2f random)%s%n", a.name(), r.meanAopc(),
                        sd(r.aopc()), r.meanAopc() / rnd.meanAopc(),
                        at.hasCompletenessGap() ? String.format(Locale.ROOT, "  mean |gap| %.4f", meanAbs(at.completenessGap())) : "");
            }
        }
        return 0;
    }

    private List<String> defaultMethods() {
        List<String> l = new ArrayList<>(Attributors.NAMES);
        if (model == Models.Kind.mlp) {
            l.remove("gradcam");
        }
        return l;
    }

    private static int[] range(int n) {
        int[] r = new int[n];
        for (int i = 0; i < n; i++) {
            r[i] = i;
        }
        return r;
    }

    private double medianMs(Runnable r) {
        r.run(); // warm-up
        r.run();
        double[] t = new double[repeats];
        for (int i = 0; i < repeats; i++) {
            long s = System.nanoTime();
            r.run();
            t[i] = (System.nanoTime() - s) / 1e6;
        }
        Arrays.sort(t);
        return t[t.length / 2];
    }

    private static double sd(double[] v) {
        double m = Arrays.stream(v).average().orElse(0);
        return Math.sqrt(Arrays.stream(v).map(x -> (x - m) * (x - m)).sum() / Math.max(1, v.length - 1));
    }

    private static double meanAbs(double[] v) {
        return Arrays.stream(v).map(Math::abs).average().orElse(Double.NaN);
    }
}
