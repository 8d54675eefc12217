package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * An explanation method: maps a batch of inputs and their target classes to relevance maps.
 *
 * <p>Implementations run on a private copy of the network and split the work into internal
 * batches of bounded size, so large example sets or many integration steps do not exhaust memory.
 */
public interface Attributor {

    /** Short method name, as used on the command line and in records (e.g. "ig", "lrp-eps"). */
    String name();

    /**
     * Explains the pre-softmax logit f_c of class {@code targets[i]} for each example {@code x[i]}.
     *
     * @param x       inputs [n, ...] in the shape the network takes
     * @param targets one class index per example
     * @return maps of the input's shape (layer methods: the layer's shape) and the method's figures
     * @throws IllegalArgumentException for a wrong number of targets or a class out of range
     */
    Attribution attribute(INDArray x, int[] targets);

    /**
     * Explains f_c for a network with one or more input arrays (a ComputationGraph), giving one map per input.
     * The default handles one input through {@link #attribute}; methods that support several inputs override it.
     *
     * @param xs      one array per network input, each [n, ...]
     * @param targets one class index per example
     * @throws IllegalArgumentException for several inputs when the method explains only one input array
     */
    default InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        if (xs.length == 1) {
            return InputAttributions.of(attribute(xs[0], targets), "input");
        }
        throw new IllegalArgumentException(name() + " explains a single input array; this network has " + xs.length
                + " inputs. Methods with several inputs: " + Attributors.MULTI_INPUT);
    }
}
