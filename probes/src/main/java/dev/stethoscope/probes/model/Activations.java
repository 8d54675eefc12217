package dev.stethoscope.probes.model;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-layer activations of a network on a batch, in inference mode, detached
 * from any workspace so they can be kept. Run it on a {@link NetworkCopy}, not on
 * the network being trained.
 */
public final class Activations {
    private Activations() {
    }

    /**
     * Activations of every layer of {@code model} for input {@code x} (for a ComputationGraph with several inputs,
     * the joint form of its inputs, {@link GraphInputs}).
     *
     * @return layer name (as in {@link LayerSelection#layerNames}) to activation, in forward order
     */
    public static Map<String, INDArray> of(Model model, INDArray x) {
        Map<String, INDArray> out = new LinkedHashMap<>();
        if (model instanceof MultiLayerNetwork mln) {
            List<INDArray> acts = mln.feedForward(x, false);
            List<String> names = LayerSelection.layerNames(mln);
            for (int i = 0; i < names.size(); i++) {
                out.put(names.get(i), acts.get(i + 1).detach());
            }
            return out;
        }
        if (model instanceof ComputationGraph cg) {
            Map<String, INDArray> acts = cg.getConfiguration().getNetworkInputs().size() == 1
                    ? cg.feedForward(x, false) : cg.feedForward(GraphInputs.split(cg, x), false);
            for (String n : LayerSelection.layerNames(cg)) {
                INDArray a = acts.get(n);
                if (a != null) {
                    out.put(n, a.detach());
                }
            }
            return out;
        }
        throw new IllegalArgumentException("Unsupported model type " + model.getClass().getName());
    }

    /**
     * Activations of the chosen layers only.
     */
    public static Map<String, INDArray> of(Model model, INDArray x, List<String> layers) {
        Map<String, INDArray> all = of(model, x);
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String l : layers) {
            INDArray a = all.get(l);
            if (a == null) {
                throw new IllegalArgumentException("No activation for layer '" + l + "'. Layers: " + all.keySet());
            }
            out.put(l, a);
        }
        return out;
    }

    /**
     * Reshapes an activation of any rank to a 2-d matrix [examples, features]
     * (conv activations [n, c, h, w] become [n, c*h*w]).
     */
    public static INDArray flatten(INDArray activation) {
        if (activation.rank() == 2) {
            return activation;
        }
        long n = activation.size(0);
        return activation.dup('c').reshape('c', n, activation.length() / n);
    }
}
