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

    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        validateInputs(xs, targets);
        INDArray[] g = targetGradients(xs, targets);
        java.util.List<INDArray> maps = new java.util.ArrayList<>();
        for (INDArray gi : g) {
            maps.add(Transforms.abs(gi, false));
        }
        return new InputAttributions(name(), net.inputNames(), maps, targets.clone(), targetLogits(xs, targets), null);
    }

    /** The signed gradient d f_c/dx (no absolute value). */
    public INDArray gradient(INDArray x, int[] targets) {
        validate(x, targets);
        return targetGradient(x, targets);
    }
}
