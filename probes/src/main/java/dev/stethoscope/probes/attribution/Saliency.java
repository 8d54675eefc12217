package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.ops.transforms.Transforms;

/** Saliency (Simonyan et al. 2013): |d f_c / dx|. */
public final class Saliency extends GradientAttributor {

    /** On a copy, default internal batch. */
    public Saliency(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH);
    }

    /** On a shared logit view. */
    public Saliency(LogitNetwork net, int batchSize) {
        super(net, batchSize);
    }

    @Override
    public String name() {
        return "saliency";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        INDArray g = targetGradient(x, targets);
        return new Attribution(name(), Transforms.abs(g, false), targets.clone(), targetLogits(x, targets), null, null);
    }

    /** The signed gradient d f_c/dx (no absolute value). */
    public INDArray gradient(INDArray x, int[] targets) {
        validate(x, targets);
        return targetGradient(x, targets);
    }
}
