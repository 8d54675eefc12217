package dev.stethoscope.probes.health;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Health statistics of one layer's activations on a batch (METHODS.md section 1):
 * mean, standard deviation and, for rectified layers, the fraction of dead units.
 *
 * <p>A unit is dead on a batch when its activation is not positive for any
 * example. Units are the columns of a dense activation [n, units]; for a
 * convolutional activation [n, channels, h, w] a unit is a channel (feature
 * map), dead when it is not positive at any position of any example; for a
 * recurrent activation [n, units, time] a unit is dead when it is not positive
 * at any time step of any example.
 *
 * @param mean         mean over every element
 * @param std          standard deviation over every element (population, not bias-corrected)
 * @param deadFraction fraction of dead units in [0, 1]
 * @param units        number of units the dead fraction is over
 */
public record ActivationStats(double mean, double std, double deadFraction, long units) {

    /**
     * Computes the statistics of {@code activation}; reads it only.
     *
     * @param activation a rank-2, 3 or 4 activation with examples on dimension 0
     */
    public static ActivationStats of(INDArray activation) {
        if (activation.rank() < 2 || activation.rank() > 5) {
            throw new IllegalArgumentException("Expected an activation of rank 2 to 5 with examples on dimension 0, got shape "
                    + java.util.Arrays.toString(activation.shape()));
        }
        double mean = activation.meanNumber().doubleValue();
        double std = activation.stdNumber(false).doubleValue();
        INDArray maxPerUnit;
        if (activation.rank() == 2) {
            maxPerUnit = activation.max(0);
        } else {
            int[] reduce = new int[activation.rank() - 1];
            reduce[0] = 0;
            for (int d = 2; d < activation.rank(); d++) {
                reduce[d - 1] = d;
            }
            maxPerUnit = activation.max(reduce);
        }
        long units = maxPerUnit.length();
        long dead = maxPerUnit.lte(0.0).castTo(org.nd4j.linalg.api.buffer.DataType.INT32).sumNumber().longValue();
        return new ActivationStats(mean, std, units == 0 ? 0.0 : (double) dead / units, units);
    }
}
