package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Base of methods built on the input gradient of the target's pre-softmax logit, d f_c / dx, computed by
 * DL4J's own backward pass on the {@link LogitNetwork} view of the copy.
 */
public abstract class GradientAttributor extends AttributorBase {

    /**
     * @param net       the logit view of a private copy of the network
     * @param batchSize rows per internal batch
     * @throws IllegalArgumentException when the network does not allow input gradients, with the reason
     */
    protected GradientAttributor(LogitNetwork net, int batchSize) {
        super(net, batchSize);
        net.requireGradients(getClass().getSimpleName());
    }

    /** d f_c / dx for each example and its target, of x's shape. */
    protected INDArray targetGradient(INDArray x, int[] targets) {
        return net.gradient(x, oneHot(targets), batchSize);
    }

    /** d f_c / dx_i for each input array of a network with one or more inputs. */
    protected INDArray[] targetGradients(INDArray[] xs, int[] targets) {
        return net.gradients(xs, oneHot(targets), batchSize);
    }

    /** Gradient of each row's weighted logits (weights [n, classes]). */
    protected INDArray weightedGradient(INDArray x, INDArray weights) {
        return net.gradient(x, weights, batchSize);
    }
}
