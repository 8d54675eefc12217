package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Objects;

/**
 * Shared plumbing of all attributors: the private network copy, its logit view, validation of inputs and
 * targets, and the bounded internal batch size.
 */
public abstract class AttributorBase implements Attributor {
    /** Default number of rows per internal forward/backward pass. */
    public static final int DEFAULT_BATCH = 128;

    protected final LogitNetwork net;
    protected final int batchSize;

    /**
     * @param net       the logit view of a network copy (may be shared between attributors of one copy)
     * @param batchSize at most this many rows per internal pass (&gt;= 1)
     */
    protected AttributorBase(LogitNetwork net, int batchSize) {
        this.net = Objects.requireNonNull(net, "net");
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        this.batchSize = batchSize;
    }

    /** Convenience: a logit view of {@code copy}. */
    protected static LogitNetwork logitView(NetworkCopy copy) {
        return new LogitNetwork(Objects.requireNonNull(copy, "copy"));
    }

    /** The logit view this attributor runs on. */
    public LogitNetwork network() {
        return net;
    }

    /** Checks shapes and class indices (and that the network takes one input array). */
    protected void validate(INDArray x, int[] targets) {
        net.requireSingleInput(name());
        checkBatch(x, targets);
    }

    /** Checks one array per network input, the same number of rows in each, and the class indices. */
    protected void validateInputs(INDArray[] xs, int[] targets) {
        Objects.requireNonNull(xs, "xs");
        if (xs.length != net.inputNames().size()) {
            throw new IllegalArgumentException("The network takes " + net.inputNames().size() + " input array(s) "
                    + net.inputNames() + "; got " + xs.length);
        }
        for (INDArray x : xs) {
            checkBatch(x, targets);
        }
    }

    private void checkBatch(INDArray x, int[] targets) {
        Objects.requireNonNull(x, "x");
        Objects.requireNonNull(targets, "targets");
        if (x.rank() < 2) {
            throw new IllegalArgumentException("x must be a batch [n, ...]; got shape " + java.util.Arrays.toString(x.shape()));
        }
        if (targets.length != x.size(0)) {
            throw new IllegalArgumentException("Need one target per example: " + x.size(0) + " examples, "
                    + targets.length + " targets");
        }
        for (int t : targets) {
            if (t < 0 || t >= net.numClasses()) {
                throw new IllegalArgumentException("Target class " + t + " out of range: valid 0.." + (net.numClasses() - 1));
            }
        }
    }

    /** One-hot weights [n, classes] selecting each row's target logit. */
    protected INDArray oneHot(int[] targets) {
        INDArray w = Nd4j.zeros(net.dataType(), targets.length, net.numClasses());
        for (int i = 0; i < targets.length; i++) {
            w.putScalar(i, targets[i], 1.0);
        }
        return w;
    }

    /** f_c(x) per example for a network with one or more inputs. */
    protected double[] targetLogits(INDArray[] xs, int[] targets) {
        INDArray z = net.logits(xs, batchSize);
        double[] out = new double[targets.length];
        for (int i = 0; i < targets.length; i++) {
            out[i] = z.getDouble(i, targets[i]);
        }
        return out;
    }

    /** f_c(x) per example (pre-softmax logit of the target). */
    protected double[] targetLogits(INDArray x, int[] targets) {
        INDArray z = net.logits(x, batchSize);
        double[] out = new double[targets.length];
        for (int i = 0; i < targets.length; i++) {
            out[i] = z.getDouble(i, targets[i]);
        }
        return out;
    }

    /** Sum of each example's map. */
    protected static double[] rowSums(INDArray maps) {
        long n = maps.size(0);
        INDArray flat = maps.reshape('c', n, maps.length() / n);
        return flat.sum(1).toDoubleVector();
    }

    /** Flattens [n, ...] to [n, d] (a copy in 'c' order). */
    protected static INDArray flat(INDArray x) {
        long n = x.size(0);
        return x.dup('c').reshape('c', n, x.length() / n);
    }

    /** A baseline of one example's shape (or the batch's) broadcast to x's batch, as [n, d]. */
    protected INDArray baselineRows(INDArray baseline, INDArray x) {
        long n = x.size(0);
        long d = x.length() / n;
        if (baseline == null) {
            return Nd4j.zeros(net.dataType(), n, d);
        }
        INDArray b = baseline.castTo(net.dataType());
        if (b.length() == d) {
            return b.dup('c').reshape('c', 1, d).repeat(0, n);
        }
        if (b.length() == n * d) {
            return b.dup('c').reshape('c', n, d);
        }
        throw new IllegalArgumentException("Baseline must have one example's shape (" + d + " values) or the batch's ("
                + (n * d) + "); got " + b.length());
    }

    /** Reshapes [rows, d] to [rows, ...x's example shape]. */
    protected static INDArray toInputShape(INDArray rows, INDArray x) {
        long[] shape = x.shape().clone();
        shape[0] = rows.size(0);
        return rows.reshape('c', shape);
    }
}
