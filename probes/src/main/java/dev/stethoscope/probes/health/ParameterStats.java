package dev.stethoscope.probes.health;

import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Map;

/**
 * Parameter and update norms of one layer (METHODS.md section 1): the L2 norm
 * of all its parameters and log10(||update|| / ||parameters||), where the
 * update is what the optimiser applied at the last iteration (DL4J's guidance
 * puts a healthy ratio near 10^-3, i.e. about -3).
 *
 * @param paramNorm        L2 norm over all of the layer's parameters
 * @param updateNorm       L2 norm over the layer's update (NaN if none given)
 * @param updateRatioLog10 log10(updateNorm / paramNorm); NaN when either is missing or zero
 */
public record ParameterStats(double paramNorm, double updateNorm, double updateRatioLog10) {

    /**
     * @param params  the layer's parameter arrays (by parameter key); may be empty
     * @param updates the layer's update arrays (same keys); null or empty when unknown
     */
    public static ParameterStats of(Map<String, INDArray> params, Map<String, INDArray> updates) {
        double p = l2(params);
        double u = updates == null || updates.isEmpty() ? Double.NaN : l2(updates);
        double ratio = (p > 0 && u > 0 && Double.isFinite(u)) ? Math.log10(u / p) : Double.NaN;
        return new ParameterStats(params.isEmpty() ? Double.NaN : p, u, ratio);
    }

    private static double l2(Map<String, INDArray> arrays) {
        double sq = 0;
        for (INDArray a : arrays.values()) {
            double n = a.norm2Number().doubleValue();
            sq += n * n;
        }
        return Math.sqrt(sq);
    }
}
