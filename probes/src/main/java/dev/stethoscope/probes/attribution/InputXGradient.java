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

    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        validateInputs(xs, targets);
        INDArray[] g = targetGradients(xs, targets);
        java.util.List<INDArray> maps = new java.util.ArrayList<>();
        for (int i = 0; i < g.length; i++) {
            maps.add(g[i].muli(xs[i].castTo(g[i].dataType())));
        }
        return new InputAttributions(name(), net.inputNames(), maps, targets.clone(), targetLogits(xs, targets), null);
    }
}
