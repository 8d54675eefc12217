package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The result of an attribution method on a batch.
 *
 * @param method          the method's name (e.g. "ig", "lrp-eps")
 * @param maps            relevance maps, one per example, of the input's shape (layer methods: the layer's shape)
 * @param targets         the explained class per example
 * @param targetScores    f_c(x) per example: the pre-softmax logit of the target class
 * @param completenessGap per example, the method's completeness/convergence figure, or {@code null} when the
 *                        method has none: IG and DeepLIFT: sum(map) - (f_c(x) - f_c(baseline)); LRP:
 *                        sum(map) - f_c(x)
 * @param extras          method-specific arrays (e.g. Grad-CAM's map at the conv layer's resolution,
 *                        LRP's relevance sum per propagation step); never null
 */
public record Attribution(String method, INDArray maps, int[] targets, double[] targetScores,
                          double[] completenessGap, Map<String, INDArray> extras) {

    /** Creates a result; {@code extras} may be null. */
    public Attribution {
        extras = extras == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(extras));
    }

    /** Number of examples. */
    public int size() {
        return targets.length;
    }

    /** The map of example {@code i} (a view of {@link #maps()} without the batch axis' size 1 kept). */
    public INDArray map(int i) {
        return maps.slice(i);
    }

    /** True when the method reports a completeness figure. */
    public boolean hasCompletenessGap() {
        return completenessGap != null;
    }
}
