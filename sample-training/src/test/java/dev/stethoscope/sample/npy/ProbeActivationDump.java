package dev.stethoscope.sample.npy;

import dev.stethoscope.probes.linear.LinearProbe;
import dev.stethoscope.probes.linear.ProbeResult;
import dev.stethoscope.probes.model.LayerSelection;
import dev.stethoscope.probes.similarity.LayerRepresentations;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Offline helper (not a test) for checking the linear probe against an independent reference
 * ({@code src/test/python/probe_reference.py}): dumps the hidden-layer activations of a saved model
 * on the first N MNIST test images, split even/odd as {@code LinearProbeListener} splits its probe set,
 * as .npy files, and prints this project's probe on the same arrays with its timing.
 *
 * <pre>
 * java -cp sample-training/target/test-classes:sample-training/target/stethoscope-sample.jar:sample-training/target/lib/* \
 *     dev.stethoscope.sample.npy.ProbeActivationDump runs/X/model.zip OUT_DIR [N=2000] [repeats=3]
 * </pre>
 * Writes {@code <layer>-train.npy}, {@code <layer>-test.npy} (float64, [n, d]) and
 * {@code labels-train.npy}, {@code labels-test.npy} ([n, 1]).
 */
public final class ProbeActivationDump {
    private ProbeActivationDump() {
    }

    public static void main(String[] args) throws Exception {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(new File(args[0]), false);
        Path out = Path.of(args[1]);
        int n = args.length > 2 ? Integer.parseInt(args[2]) : 2000;
        int repeats = args.length > 3 ? Integer.parseInt(args[3]) : 3;
        Files.createDirectories(out);
        LabeledImages test = MnistData.load(null, null).test().head(n);
        int[] even = new int[(n + 1) / 2];
        int[] odd = new int[n / 2];
        for (int i = 0; i < n; i++) {
            if (i % 2 == 0) {
                even[i / 2] = i;
            } else {
                odd[i / 2] = i;
            }
        }
        INDArray x = test.features();
        int[] y = test.labelValues();
        int[] ytr = new int[even.length];
        int[] yte = new int[odd.length];
        for (int i = 0; i < even.length; i++) {
            ytr[i] = y[even[i]];
        }
        for (int i = 0; i < odd.length; i++) {
            yte[i] = y[odd[i]];
        }
        writeLabels(out.resolve("labels-train.npy"), ytr);
        writeLabels(out.resolve("labels-test.npy"), yte);
        List<String> layers = LayerSelection.hiddenLayerNames(net);
        Map<String, INDArray> tr = LayerRepresentations.activations(net, x.getRows(even), layers, 500);
        Map<String, INDArray> te = LayerRepresentations.activations(net, x.getRows(odd), layers, 500);
        for (String l : layers) {
            INDArray a = LinearProbe.features(tr.get(l), LinearProbe.Options.defaults().features());
            INDArray b = LinearProbe.features(te.get(l), LinearProbe.Options.defaults().features());
            NpyWriter.write(out.resolve(l + "-train.npy"), a.castTo(DataType.DOUBLE).toDoubleMatrix(), "<f8", false);
            NpyWriter.write(out.resolve(l + "-test.npy"), b.castTo(DataType.DOUBLE).toDoubleMatrix(), "<f8", false);
            for (int r = 0; r < repeats; r++) {
                long t0 = System.nanoTime();
                ProbeResult res = LinearProbe.train(tr.get(l), ytr, te.get(l), yte, 10);
                double s = (System.nanoTime() - t0) / 1e9;
                System.out.printf(Locale.ROOT, "%s d=%d: test acc %.4f train acc %.4f train loss %.5f, l2 %g, "
                                + "gradient norm %.2e, held-out losses %s; %.3f s%n", l, a.columns(), res.testAccuracy(),
                        res.trainAccuracy(), res.trainLoss(), res.l2(), res.gradientNorm(),
                        java.util.Arrays.toString(res.heldOutLoss()), s);
                long t1 = System.nanoTime();
                ProbeResult old = LinearProbe.train(tr.get(l), ytr, te.get(l), yte, 10,
                        LinearProbe.Options.defaults().withL2(1e-4));
                double s1 = (System.nanoTime() - t1) / 1e9;
                System.out.printf(Locale.ROOT, "%s fixed l2 1e-4 (the old default): test acc %.4f train loss %.5f, "
                        + "gradient norm %.2e; %.3f s; time ratio default / old %.2f%n", l, old.testAccuracy(),
                        old.trainLoss(), old.gradientNorm(), s1, s / s1);
            }
        }
        System.out.println("layers " + layers + " written to " + out);
    }

    private static void writeLabels(Path f, int[] y) throws java.io.IOException {
        double[][] v = new double[y.length][1];
        for (int i = 0; i < y.length; i++) {
            v[i][0] = y[i];
        }
        NpyWriter.write(f, v, "<f8", false);
    }
}
