package dev.stethoscope.sample;

import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.probes.linear.ProbeFeatures;
import dev.stethoscope.probes.linear.ProbeResult;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Not a test: probes every hidden layer of a saved model on the first N MNIST test images, split as
 * the LinearProbeListener splits them (even rows probe-train, odd rows probe-test), with the default
 * options and with more final Adam steps / a smaller learning rate, printing test accuracy, chosen L2
 * and final gradient norm: whether a layer's default probe converged (docs/PROBES_AND_SIMILARITY.md).
 * With a third argument {@code batches}: instead, for every layer, the default probe on activations
 * computed in minibatches of 100, 250 and 500 (the same numbers up to float rounding), twice each:
 * whether the result depends on rounding-level differences of its input.
 * With {@code standardisation}: per layer, the features LinearProbe standardises away (std &lt;= 1e-12)
 * or nearly (std &lt; 1e-3), and the largest |standardised value| on probe-train and probe-test.
 * Args: model.zip N [batches|standardisation]
 */
public final class ProbeConvergenceMain {
    private ProbeConvergenceMain() {
    }

    public static void main(String[] args) throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(new java.io.File(args[0]), false);
        int n = Integer.parseInt(args[1]);
        MnistData data = MnistData.load(null, MnistData.cacheDir(null));
        INDArray x = DataConversion.features(data.test().images(), 0, n);
        int[] y = Arrays.copyOf(data.test().labelValues(), n);
        int[] even = new int[(n + 1) / 2];
        int[] odd = new int[n / 2];
        for (int i = 0; i < n; i++) {
            if (i % 2 == 0) {
                even[i / 2] = i;
            } else {
                odd[i / 2] = i;
            }
        }
        int[] ytr = Arrays.stream(even).map(i -> y[i]).toArray();
        int[] yte = Arrays.stream(odd).map(i -> y[i]).toArray();
        List<String> layers = LayerSelection.layerNames(net);
        layers = layers.subList(0, layers.size() - 1); // hidden layers only, as the listener
        if (args.length > 2 && args[2].equals("batches")) {
            batches(net, x.getRows(even), ytr, x.getRows(odd), yte, layers);
            return;
        }
        if (args.length > 2 && args[2].equals("standardisation")) {
            standardisation(net, x.getRows(even), x.getRows(odd), layers);
            return;
        }
        Map<String, INDArray> tr = LayerRepresentations.activations(net, x.getRows(even), layers, 250);
        Map<String, INDArray> te = LayerRepresentations.activations(net, x.getRows(odd), layers, 250);
        LinearProbe.Options d = LinearProbe.Options.defaults();
        String[] names = {"default (300 steps, lr 0.05)", "1000 steps, lr 0.05", "3000 steps, lr 0.05",
            "1000 steps, lr 0.01", "3000 steps, lr 0.01"};
        LinearProbe.Options[] opts = {d, d.withIterations(1000), d.withIterations(3000),
            d.withIterations(1000).withLearningRate(0.01), d.withIterations(3000).withLearningRate(0.01)};
        for (String l : layers) {
            for (int k = 0; k < opts.length; k++) {
                long t0 = System.nanoTime();
                ProbeResult r = LinearProbe.train(tr.get(l), ytr, te.get(l), yte, 10, opts[k]);
                System.out.printf(Locale.ROOT, "%-6s %-30s features %6d train %.4f test %.4f L2 %.0e grad %.1e (%.1f s)%n",
                        l, names[k], r.features(), r.trainAccuracy(), r.testAccuracy(), r.l2(), r.gradientNorm(),
                        (System.nanoTime() - t0) / 1e9);
            }
        }
    }

    private static void batches(MultiLayerNetwork net, INDArray xtr, int[] ytr, INDArray xte, int[] yte, List<String> layers) {
        Map<String, INDArray> ref = LayerRepresentations.activations(net, xtr, layers, 250);
        for (int batch : new int[]{100, 250, 500}) {
            Map<String, INDArray> tr = LayerRepresentations.activations(net, xtr, layers, batch);
            Map<String, INDArray> te = LayerRepresentations.activations(net, xte, layers, batch);
            for (String l : layers) {
                double diff = tr.get(l).sub(ref.get(l)).amaxNumber().doubleValue();
                for (int rep = 0; rep < 2; rep++) {
                    ProbeResult r = LinearProbe.train(tr.get(l), ytr, te.get(l), yte, 10, LinearProbe.Options.defaults());
                    System.out.printf(Locale.ROOT, "batch %3d %-6s max |act - act(batch 250)| %.1e  train %.4f test %.4f L2 %.0e grad %.1e held-out %s%n",
                            batch, l, diff, r.trainAccuracy(), r.testAccuracy(), r.l2(), r.gradientNorm(),
                            Arrays.toString(Arrays.stream(r.heldOutLoss()).map(v -> Math.round(v * 1e4) / 1e4).toArray()));
                }
            }
        }
    }

    private static void standardisation(MultiLayerNetwork net, INDArray xtr, INDArray xte, List<String> layers) {
        Map<String, INDArray> tr = LayerRepresentations.activations(net, xtr, layers, 250);
        Map<String, INDArray> te = LayerRepresentations.activations(net, xte, layers, 250);
        for (String l : layers) {
            INDArray f = LinearProbe.features(tr.get(l), ProbeFeatures.FLATTEN).castTo(DataType.DOUBLE);
            INDArray g = LinearProbe.features(te.get(l), ProbeFeatures.FLATTEN).castTo(DataType.DOUBLE);
            double[] sd = f.std(false, true, 0).toDoubleVector();
            int constant = 0;
            int small = 0;
            double[] inv = new double[sd.length];
            for (int j = 0; j < sd.length; j++) {
                if (sd[j] <= 1e-12) {
                    constant++;
                } else {
                    inv[j] = 1 / sd[j];
                    if (sd[j] < 1e-3) {
                        small++;
                    }
                }
            }
            INDArray mean = f.mean(true, 0);
            INDArray scale = Nd4j.createFromArray(inv).reshape(1, inv.length);
            INDArray zt = f.subRowVector(mean).muliRowVector(scale);
            INDArray zte = g.subRowVector(mean).muliRowVector(scale);
            long big = zte.gt(50).castTo(DataType.DOUBLE).sumNumber().longValue();
            System.out.printf(Locale.ROOT, "%-6s features %6d: std <= 1e-12 %d, other std < 1e-3 %d; max |z| probe-train %.1f,"
                            + " probe-test %.1f; probe-test entries above 50: %d%n", l, sd.length, constant, small,
                    zt.amaxNumber().doubleValue(), zte.amaxNumber().doubleValue(), big);
        }
    }
}
