package dev.stethoscope.plugin.example;

import java.util.List;

/**
 * The example monitor's record: one Java {@code record}; Stethoscope's codec derives its binary
 * and JSON forms from the components. New components may only be appended.
 *
 * @param layers the layers with weights
 * @param norms  ||W||_2 of each, same order
 */
public record WeightNormRecord(List<String> layers, double[] norms) {
    public WeightNormRecord {
        layers = List.copyOf(layers);
        if (norms.length != layers.size()) {
            throw new IllegalArgumentException("one norm per layer: " + layers.size() + " layers, " + norms.length + " norms");
        }
    }
}
