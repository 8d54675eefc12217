package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

/**
 * A view of a {@link NetworkCopy} whose output is the pre-softmax logits z and whose backward pass gives
 * d(sum_c w_c z_c)/dx for chosen weights w.
 *
 * <p>It is a second MultiLayerNetwork built from the copy's configuration with the output layer's activation
 * set to IDENTITY, its loss replaced by {@link WeightedLogitLoss} and dropout removed (DL4J's
 * {@code calculateGradients} runs layers in training mode). It shares the copy's parameter buffer, so
 * {@link NetworkCopy#refresh()} is seen here too. Networks with BatchNormalization are rejected for
 * gradients, since training mode would use batch statistics.
 */
public final class LogitNetwork {
    private final NetworkCopy copy;
    private final MultiLayerNetwork net;
    private final int numClasses;
    private final boolean gradientsAllowed;
    private final String gradientBlocker;

    /**
     * Builds the logit view of {@code copy}.
     *
     * @throws IllegalArgumentException if the copy is not a MultiLayerNetwork or its last layer is not an
     *                                  output layer with weights (OutputLayer and relatives)
     */
    public LogitNetwork(NetworkCopy copy) {
        this.copy = copy;
        MultiLayerNetwork src;
        try {
            src = copy.multiLayer();
        } catch (UnsupportedOperationException e) {
            throw new IllegalArgumentException("Attribution needs a MultiLayerNetwork: " + e.getMessage(), e);
        }
        MultiLayerConfiguration conf = src.getLayerWiseConfigurations().clone();
        int n = conf.getConfs().size();
        String blocker = null;
        for (int i = 0; i < n; i++) {
            NeuralNetConfiguration c = conf.getConf(i);
            Layer l = c.getLayer();
            l.setIDropout(null);
            if (l instanceof BaseLayer bl) {
                bl.setWeightNoise(null);
            }
            if (l instanceof BatchNormalization && blocker == null) {
                blocker = "layer " + i + " is BatchNormalization (gradients would use batch statistics)";
            }
        }
        Layer last = conf.getConf(n - 1).getLayer();
        if (!(last instanceof BaseOutputLayer out)) {
            throw new IllegalArgumentException("Attribution needs an output layer with weights (OutputLayer) last; got "
                    + last.getClass().getSimpleName());
        }
        out.setActivationFn(new ActivationIdentity());
        out.setLossFn(new WeightedLogitLoss());
        this.net = new MultiLayerNetwork(conf);
        this.net.init(src.params(), false);
        this.numClasses = (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) out).getNOut();
        this.gradientsAllowed = blocker == null;
        this.gradientBlocker = blocker;
    }

    /** The copy this view reads its parameters from. */
    public NetworkCopy copy() {
        return copy;
    }

    /** Number of output classes. */
    public int numClasses() {
        return numClasses;
    }

    /** The network's parameter data type. */
    public DataType dataType() {
        return net.params().dataType();
    }

    /** Throws if input gradients cannot be computed faithfully on this network. */
    public void requireGradients(String method) {
        if (!gradientsAllowed) {
            throw new IllegalArgumentException(method + " is not supported on this network: " + gradientBlocker);
        }
    }

    /** Pre-softmax logits [n, classes], in inference mode, in internal batches of at most {@code batch} rows. */
    public INDArray logits(INDArray x, int batch) {
        long n = x.size(0);
        INDArray in = x.castTo(dataType());
        if (n <= batch) {
            INDArray o = net.output(in, false).detach();
            net.clear();
            return o;
        }
        INDArray out = Nd4j.create(dataType(), n, numClasses);
        for (long s = 0; s < n; s += batch) {
            long e = Math.min(n, s + batch);
            INDArray part = net.output(rows(in, s, e), false);
            out.get(NDArrayIndex.interval(s, e), NDArrayIndex.all()).assign(part);
        }
        net.clear();
        return out;
    }

    /**
     * d(sum_r sum_c w_rc z_rc)/dx: row r of the result is sum_c w_rc dz_c(x_r)/dx_r.
     *
     * @param x       inputs [n, ...]
     * @param weights [n, classes]
     * @param batch   internal batch size
     * @return gradients of the input's shape, detached
     */
    public INDArray gradient(INDArray x, INDArray weights, int batch) {
        long n = x.size(0);
        INDArray in = x.castTo(dataType());
        INDArray w = weights.castTo(dataType());
        INDArray out = Nd4j.create(dataType(), x.shape());
        for (long s = 0; s < n; s += batch) {
            long e = Math.min(n, s + batch);
            INDArray g = net.calculateGradients(rows(in, s, e), rows(w, s, e), null, null).getSecond();
            rows(out, s, e).assign(g);
        }
        net.clear();
        return out;
    }

    /** Rows [s, e) of an array of any rank (a view). */
    static INDArray rows(INDArray a, long s, long e) {
        if (s == 0 && e == a.size(0)) {
            return a;
        }
        return a.get(indexRows(a.rank(), s, e));
    }

    private static org.nd4j.linalg.indexing.INDArrayIndex[] indexRows(int rank, long s, long e) {
        org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[rank];
        idx[0] = NDArrayIndex.interval(s, e);
        for (int i = 1; i < rank; i++) {
            idx[i] = NDArrayIndex.all();
        }
        return idx;
    }
}
