package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;

/** Gradient x Input: x * d f_c / dx. */
public final class InputXGradient extends GradientAttributor {

    /** On a copy, default internal batch. */
    public InputXGradient(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH);
    }

    /** On a shared logit view. */
    public InputXGradient(LogitNetwork net, int batchSize) {
        super(net, batchSize);
    }

    @Override
    public String name() {
        return "grad-x-input";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        INDArray g = targetGradient(x, targets);
        INDArray m = g.muli(x.castTo(g.dataType()));
        return new Attribution(name(), m, targets.clone(), targetLogits(x, targets), null, null);
    }
}
