package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener.Capture;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Sgd;

import java.util.List;
import java.util.concurrent.Callable;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LogitCaptureTest {
    private final Blobs data = new Blobs(40, 6, 3, 2, 5);

    /** What DL4J's onForwardPass hands over: the input and every layer's output but the output layer's. */
    private static List<INDArray> activations(MultiLayerNetwork net, INDArray x) {
        List<INDArray> all = net.feedForward(x, false);
        return all.subList(0, all.size() - 1);
    }

    /** Row-wise softmax of row-major logits. */
    private static double[] softmax(double[] z, int c) {
        double[] p = new double[z.length];
        for (int r = 0; r < z.length / c; r++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < c; j++) {
                max = Math.max(max, z[r * c + j]);
            }
            double sum = 0;
            for (int j = 0; j < c; j++) {
                p[r * c + j] = Math.exp(z[r * c + j] - max);
                sum += p[r * c + j];
            }
            for (int j = 0; j < c; j++) {
                p[r * c + j] /= sum;
            }
        }
        return p;
    }

    private static void assertClose(double[] a, double[] b, double tol) {
        assertThat(a).hasSameSizeAs(b);
        for (int i = 0; i < a.length; i++) {
            assertThat(a[i]).as("element %d", i).isCloseTo(b[i], within(tol));
        }
    }

    @Test
    void trainPassLogitsAreThoseOfTheNetworkOutputInJavaAndInNd4j() {
        MultiLayerNetwork net = data.mlp(16, 1.0, new Sgd(0.1), 7);
        INDArray x = data.features(0, 40);
        double[] expected = net.output(x, false).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).data().asDouble();
        LogitCapture c = new LogitCapture(net, Capture.TRAIN_PASS);
        c.javaProductLimit(Long.MAX_VALUE); // the Java product when ND4J runs several threads
        double[] java = c.now(activations(net, x), x);
        c.javaProductLimit(0); // always ND4J's product
        double[] nd4j = c.now(activations(net, x), x);
        assertThat(java).hasSize(40 * 3);
        assertClose(softmax(java, 3), expected, 1e-5);
        assertClose(java, nd4j, 1e-4);
    }

    @Test
    void handOverReadsJavaCopiesAndGivesTheNetworksLogits() throws Exception {
        MultiLayerNetwork net = data.mlp(16, 1.0, new Sgd(0.1), 7);
        INDArray x = data.features(0, 40);
        double[] expected = net.output(x, false).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).data().asDouble();
        LogitCapture c = new LogitCapture(net, Capture.TRAIN_PASS);
        c.javaProductLimit(0); // now(): ND4J's product, the reference
        double[] nd4j = c.now(activations(net, x), x);
        double[] handedOver = c.handOver(activations(net, x), x).call(); // the Java product of the hand-over copies
        assertThat(handedOver).hasSize(40 * 3);
        assertClose(softmax(handedOver, 3), expected, 1e-5);
        assertClose(handedOver, nd4j, 1e-4);
        // with a bias that is not zero: a different network gives different logits (the copies are not stale)
        MultiLayerNetwork other = data.mlp(16, 1.0, new Sgd(0.1), 8);
        double[] otherLogits = new LogitCapture(other, Capture.TRAIN_PASS).handOver(activations(other, x), x).call();
        assertThat(Math.abs(otherLogits[0] - handedOver[0]) + Math.abs(otherLogits[1] - handedOver[1])).isGreaterThan(1e-4);
    }

    @Test
    void inferenceCopyFollowsTheTrainingNetworksParameters() {
        MultiLayerNetwork net = data.mlp(16, 1.0, new Sgd(0.5), 7);
        INDArray x = data.features(0, 40);
        LogitCapture train = new LogitCapture(net, Capture.TRAIN_PASS);
        LogitCapture copy = new LogitCapture(net, Capture.INFERENCE_COPY);
        double[] before = copy.now(activations(net, x), x);
        assertClose(before, train.now(activations(net, x), x), 1e-5); // no dropout: same logits
        DataSet batch = data.batch(0, 40, true);
        net.fit(batch);
        double[] after = copy.now(activations(net, x), x);
        assertClose(after, train.now(activations(net, x), x), 1e-5); // the copy was refreshed
        assertThat(Math.abs(after[0] - before[0]) + Math.abs(after[1] - before[1])).isGreaterThan(1e-4);
    }

    @Test
    void handOverKeepsTheLogitsOfThePassEvenIfTrainingChangesTheParametersMeanwhile() throws Exception {
        MultiLayerNetwork net = data.mlp(16, 1.0, new Sgd(0.5), 7);
        INDArray x = data.features(0, 40);
        LogitCapture c = new LogitCapture(net, Capture.TRAIN_PASS);
        double[] now = c.now(activations(net, x), x);
        Callable<double[]> later = c.handOver(activations(net, x), x);
        net.fit(data.batch(0, 40, true)); // the update changes W and b in place
        double[] changed = c.now(activations(net, x), x);
        assertThat(Math.abs(changed[0] - now[0]) + Math.abs(changed[1] - now[1])).isGreaterThan(1e-4);
        assertClose(later.call(), now, 1e-6);
    }
}
