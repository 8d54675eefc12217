package dev.stethoscope.probes.assertions;

/**
 * The training signals of one finished epoch.
 *
 * @param epoch          the epoch number
 * @param trainLoss      mean training loss over the epoch (NaN when unknown)
 * @param validationLoss loss on held-out data at the end of the epoch (NaN when no validation data)
 * @param trainAccuracy  training accuracy in [0, 1] (NaN when unknown)
 */
public record EpochSignals(int epoch, double trainLoss, double validationLoss, double trainAccuracy) implements java.io.Serializable {
    /** @return signals with only the training loss known */
    public static EpochSignals ofTrainLoss(int epoch, double trainLoss) {
        return new EpochSignals(epoch, trainLoss, Double.NaN, Double.NaN);
    }
}
