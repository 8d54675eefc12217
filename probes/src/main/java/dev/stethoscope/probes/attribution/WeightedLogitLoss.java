package dev.stethoscope.probes.attribution;

import org.nd4j.common.primitives.Pair;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.lossfunctions.ILossFunction;

/**
 * A "loss" that is a weighted sum of the output layer's activations: L = sum_rows sum_c w_rc a_rc, with the
 * weights w passed as labels. With an IDENTITY output activation, a = z (the pre-softmax logits), so
 * backpropagating L gives sum_c w_c dz_c/dx. Used only on the private attribution copy, never for training.
 */
public final class WeightedLogitLoss implements ILossFunction {
    private static final long serialVersionUID = 1L;

    /** No-arg constructor (serialisation). */
    public WeightedLogitLoss() {
    }

    @Override
    public double computeScore(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask,
                               boolean average) {
        double s = computeScoreArray(labels, preOutput, activationFn, mask).sumNumber().doubleValue();
        return average ? s / labels.size(0) : s;
    }

    @Override
    public INDArray computeScoreArray(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        INDArray out = activationFn.getActivation(preOutput.dup(), false);
        INDArray prod = out.muli(labels.castTo(out.dataType()));
        if (mask != null) {
            prod.muliColumnVector(mask.castTo(out.dataType()));
        }
        return prod.sum(1);
    }

    @Override
    public INDArray computeGradient(INDArray labels, INDArray preOutput, IActivation activationFn, INDArray mask) {
        INDArray dLda = labels.castTo(preOutput.dataType()).dup();
        if (mask != null) {
            dLda.muliColumnVector(mask.castTo(preOutput.dataType()));
        }
        return activationFn.backprop(preOutput.dup(), dLda).getFirst();
    }

    @Override
    public Pair<Double, INDArray> computeGradientAndScore(INDArray labels, INDArray preOutput,
                                                          IActivation activationFn, INDArray mask, boolean average) {
        return Pair.of(computeScore(labels, preOutput, activationFn, mask, average),
                computeGradient(labels, preOutput, activationFn, mask));
    }

    @Override
    public String name() {
        return "WeightedLogitLoss";
    }

    @Override
    public String toString() {
        return name();
    }
}
