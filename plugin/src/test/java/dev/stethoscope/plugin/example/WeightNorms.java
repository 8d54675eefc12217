package dev.stethoscope.plugin.example;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;

/**
 * The example monitor's math (docs/ADDING_A_MONITOR.md): the L2 norm of each layer's weight
 * matrix. In a real monitor this class lives in {@code probes/}: plain, stateless code over ND4J
 * arrays and a model, no listener or UI code.
 */
public final class WeightNorms {
    private WeightNorms() {
    }

    /** Layer names (the layer's configured name, else its index) of the layers that have weights. */
    public static List<String> layers(MultiLayerNetwork net) {
        List<String> out = new ArrayList<>();
        for (Layer l : net.getLayers()) {
            if (l.getParam("W") != null) {
                String name = l.conf().getLayer().getLayerName();
                out.add(name != null ? name : String.valueOf(l.getIndex()));
            }
        }
        return out;
    }

    /** ||W||_2 (Frobenius) of each layer with weights, in layer order; only reads the network. */
    public static double[] of(MultiLayerNetwork net) {
        List<Double> norms = new ArrayList<>();
        for (Layer l : net.getLayers()) {
            INDArray w = l.getParam("W");
            if (w != null) {
                norms.add(w.norm2Number().doubleValue());
            }
        }
        return norms.stream().mapToDouble(Double::doubleValue).toArray();
    }
}
