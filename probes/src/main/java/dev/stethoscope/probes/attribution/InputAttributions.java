package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;

/**
 * The result of an attribution method on a batch of a network with one or more inputs (a ComputationGraph):
 * one relevance map per input array.
 *
 * @param method          the method's name
 * @param inputs          the input names (a graph's input vertices; "input" for a single-input network)
 * @param maps            one array per input, of that input's shape
 * @param targets         the explained class per example
 * @param targetScores    f_c(x) per example (the pre-softmax logit of the target)
 * @param completenessGap per example, the method's completeness figure summed over all inputs (IG and DeepLIFT:
 *                        sum of all maps - (f_c(x) - f_c(baseline)); LRP: sum of all maps - f_c(x)), or null
 */
public record InputAttributions(String method, List<String> inputs, List<INDArray> maps, int[] targets,
                                double[] targetScores, double[] completenessGap) {

    /** Creates a result; the lists are copied. */
    public InputAttributions {
        inputs = List.copyOf(inputs);
        maps = List.copyOf(maps);
    }

    /** A single-input result seen as a one-input result. */
    public static InputAttributions of(Attribution a, String inputName) {
        return new InputAttributions(a.method(), List.of(inputName), List.of(a.maps()), a.targets(), a.targetScores(),
                a.completenessGap());
    }

    /** The maps of input {@code name}; the error lists the input names. */
    public INDArray maps(String name) {
        int i = inputs.indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("Unknown input '" + name + "'. Inputs: " + inputs);
        }
        return maps.get(i);
    }

    /** Input {@code i}'s maps as an {@link Attribution} (its completeness gap is the joint one of all inputs). */
    public Attribution forInput(int i) {
        return new Attribution(method, maps.get(i), targets, targetScores, completenessGap, null);
    }
}
