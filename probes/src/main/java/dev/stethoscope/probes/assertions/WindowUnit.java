package dev.stethoscope.probes.assertions;

/** The unit of a finding's range: training iterations (steps) or epochs. */
public enum WindowUnit {
    /** Iterations (one minibatch each), as DL4J counts them. */
    STEP,
    /** Epochs. */
    EPOCH,
    /** Attach time (configuration lint, first batch): the range is empty. */
    ATTACH
}
