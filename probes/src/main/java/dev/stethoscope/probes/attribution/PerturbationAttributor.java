package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Base of methods that only run forward passes on perturbed copies of the input (occlusion-like): perturbed
 * inputs of all examples are evaluated in internal batches of at most {@link #batchSize} rows.
 */
public abstract class PerturbationAttributor extends AttributorBase {

    /**
     * @param net       the logit view of a private copy of the network
     * @param batchSize rows per internal batch of perturbed inputs
     */
    protected PerturbationAttributor(LogitNetwork net, int batchSize) {
        super(net, batchSize);
    }

    /**
     * Target logits of perturbed inputs.
     *
     * @param rows    perturbed inputs as rows [m, d]
     * @param like    an input batch whose per-example shape the network takes
     * @param targets class per row
     * @return f_c per row
     */
    protected double[] scores(INDArray rows, INDArray like, int[] targets) {
        INDArray z = net.logits(toInputShape(rows, like), batchSize);
        double[] out = new double[targets.length];
        for (int i = 0; i < out.length; i++) {
            out[i] = z.getDouble(i, targets[i]);
        }
        return out;
    }

    /**
     * Image geometry {c, h, w} per example: as given, else from a rank-4 input, else from a leading
     * FeedForwardToCnn preprocessor, else a 1 x 1 x d strip.
     */
    protected long[] geometry(INDArray x, long[] given) {
        long d = x.length() / x.size(0);
        if (given != null) {
            if (given.length != 3 || given[0] * given[1] * given[2] != d) {
                throw new IllegalArgumentException("Image shape " + java.util.Arrays.toString(given)
                        + " does not match " + d + " values per example; give {channels, height, width}");
            }
            return given.clone();
        }
        if (x.rank() == 4) {
            return new long[]{x.size(1), x.size(2), x.size(3)};
        }
        org.deeplearning4j.nn.conf.InputPreProcessor pp = net.inputPreProcessor();
        if (pp instanceof org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor f) {
            return new long[]{f.getNumChannels(), f.getInputHeight(), f.getInputWidth()};
        }
        return new long[]{1, 1, d};
    }
}
