package dev.stethoscope.probes.similarity;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * How a convolutional (or any rank &gt; 2) activation {@code [examples, channels, positions...]}
 * becomes a neurons x data points matrix; Raghu et al. use both.
 */
public enum ConvMode {
    /**
     * Every (channel, position) is a neuron, every example a data point: n = c*h*w, m = examples.
     * Keeps spatial detail, but n is often far larger than m (see {@link Similarity} on n &gt; m)
     * and the SVD costs O(n m min(n, m)).
     */
    FLATTEN,
    /**
     * Channels are neurons, every (example, position) is a data point: n = c, m = examples*h*w,
     * subsampled without replacement to a bounded number of points with a seed. Cheap and
     * well-determined; treats positions as exchangeable samples (translation invariance) and
     * can only compare layers with the same spatial size over the same sample of positions.
     */
    POSITIONS_AS_POINTS;

    /** Parses "flatten" or "positions" (case-insensitive), listing valid choices on error. */
    public static ConvMode parse(String s) {
        if (s != null) {
            String k = s.trim().toLowerCase(Locale.ROOT).replace('-', '_');
            if (k.equals("flatten")) {
                return FLATTEN;
            }
            if (k.equals("positions") || k.equals("positions_as_points")) {
                return POSITIONS_AS_POINTS;
            }
        }
        throw new IllegalArgumentException("Unknown conv mode '" + s + "'. Valid: flatten, positions ("
                + Arrays.stream(values()).map(Enum::name).collect(Collectors.joining(", ")) + ")");
    }
}
