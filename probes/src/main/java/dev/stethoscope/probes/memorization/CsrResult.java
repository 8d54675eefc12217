package dev.stethoscope.probes.memorization;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Outcome of a critical-sample search over a set of examples.
 *
 * @param criticalSampleRatio number of critical examples / number of examples
 * @param critical            per example: whether LASS found x~ in the box with a different argmax
 * @param iterationsUsed      per example: the step at which it became critical (1-based), or
 *                            {@code maxIterations} when it did not
 * @param originalClass       per example: argmax f(x)
 * @param perturbed           the final x~ of every example (for a critical one: the x~ that changed
 *                            its class; otherwise the last iterate); {@code null} if not kept
 * @param steps               number of batched LASS steps run (the maximum over batches)
 * @param parameters          the LASS parameters used
 * @param certified           per example: whether interval bounds proved it non-critical, so it was not
 *                            searched ({@link IntervalBounds}; its perturbed row is x itself)
 * @param certificationNote   why certification was not used ({@code null} if it was, or was off)
 */
public record CsrResult(double criticalSampleRatio, boolean[] critical, int[] iterationsUsed,
                        int[] originalClass, INDArray perturbed, int steps, LassParameters parameters,
                        boolean[] certified, String certificationNote) {

    /** Number of examples proved non-critical by interval bounds (not searched). */
    public int numCertified() {
        return count(certified);
    }

    /** Number of examples searched. */
    public int numExamples() {
        return critical.length;
    }

    /** Number of critical examples. */
    public int numCritical() {
        return count(critical);
    }

    /** Number of true entries. */
    static int count(boolean[] flags) {
        int c = 0;
        for (boolean b : flags) {
            if (b) {
                c++;
            }
        }
        return c;
    }
}
