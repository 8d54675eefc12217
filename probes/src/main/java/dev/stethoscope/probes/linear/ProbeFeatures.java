package dev.stethoscope.probes.linear;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a layer's activation becomes a probe's feature vector.
 */
public enum ProbeFeatures {
    /**
     * Every activation value is a feature ([n, c, h, w] to [n, c*h*w]). Matches Alain and Bengio's
     * probes on the full layer; for early convolutional layers d is large (LeNet conv1: 11520),
     * so training is slower and a small probe-train set can be fitted by memorisation (watch the
     * train/test gap).
     */
    FLATTEN,
    /**
     * Each channel's mean over positions is a feature ([n, c, h, w] to [n, c]). Cheap and hard to
     * overfit, but discards where a feature fired, so it under-states what early (spatially
     * specific) layers make linearly decodable; it mostly measures "which features are present".
     * Dense activations are unchanged.
     */
    GLOBAL_AVERAGE_POOL;

    /** Parses "flatten" or "gap"/"global-average-pool" (case-insensitive), listing the valid choices on error. */
    public static ProbeFeatures parse(String s) {
        if (s != null) {
            String k = s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (k.equals("flatten")) {
                return FLATTEN;
            }
            if (k.equals("gap") || k.equals("global_average_pool")) {
                return GLOBAL_AVERAGE_POOL;
            }
        }
        throw new IllegalArgumentException("Unknown probe feature mode '" + s + "'. Valid: flatten, gap ("
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
    }
}
