package dev.stethoscope.listeners.records;

/**
 * One loss-sensitivity measurement on the fixed training subset (METHODS.md section 5); record
 * type {@value #TYPE_ID}.
 *
 * @param mean        mean of g_x^t = ||dL_t/dx||_1 over the subset at this iteration
 * @param gini        Gini coefficient of g_x^t at this iteration
 * @param giniRunning Gini coefficient of the per-example averages so far in the epoch
 * @param examples    size of the subset
 */
public record LossSensitivitySample(double mean, double gini, double giniRunning, int examples) {
    public static final String TYPE_ID = "Stethoscope.LossSensitivity";
}
