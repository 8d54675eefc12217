package dev.stethoscope.probes.assertions;

/**
 * A training-bug detector: a plain function from a {@link SignalWindow} to a {@link Condition}.
 * Detectors hold only their thresholds; the once-per-episode logic is {@link Episode}'s.
 * Implementations must not modify the window and must tolerate a window that is still
 * filling (abstain until they have enough evidence). Detectors are {@link java.io.Serializable}, so a
 * listener holding them can be shipped to Spark workers.
 */
public interface Detector extends java.io.Serializable {
    /** @return a stable, lower-case, dash-separated id (for records, logs and the panel) */
    String id();

    /**
     * @param window the recent training signals
     * @return {@link Condition#ABSENT} or the fault seen now
     */
    Condition check(SignalWindow window);

    /**
     * @return true when the detector reads only epoch signals, so it is evaluated at epoch ends
     *         rather than at every step
     */
    /**
     * Whether this detector reads only sampled signals ({@link StepSignals#sampled()}: layer norms,
     * activation fractions, predictions), so that it is evaluated only on steps that carry them; its
     * episode's re-arm delay then counts sampled steps. Default false (evaluated on every step).
     */
    default boolean sampledOnly() {
        return false;
    }

    /**
     * Whether this detector reads the per-epoch signals ({@link SignalWindow#epochs()}) and is evaluated at epoch
     * ends only, instead of at steps. Default false.
     */
    default boolean epochLevel() {
        return false;
    }
}
