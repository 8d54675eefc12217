package dev.stethoscope.probes.assertions;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A window plus a set of detectors, each behind its {@link Episode}: what a training listener
 * feeds one step (or epoch) at a time, receiving the findings that fire.
 */
public final class DetectorSuite implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** Default window capacity in steps. */
    public static final int DEFAULT_CAPACITY = 200;

    private final SignalWindow window;
    private final ArrayList<Episode> episodes = new ArrayList<>();

    /**
     * @param window     the window the suite fills
     * @param detectors  the detectors
     * @param rearmAfter consecutive evaluations without a detector's condition before it can fire again
     */
    public DetectorSuite(SignalWindow window, List<? extends Detector> detectors, int rearmAfter) {
        this.window = window;
        for (Detector d : detectors) {
            episodes.add(new Episode(d, rearmAfter));
        }
    }

    /** @return a suite of {@link #defaultDetectors()} over a window of {@value #DEFAULT_CAPACITY} steps */
    public static DetectorSuite defaults() {
        return new DetectorSuite(new SignalWindow(DEFAULT_CAPACITY), defaultDetectors(), Episode.DEFAULT_REARM_AFTER);
    }

    /** @return every built-in step and epoch detector with its documented default thresholds */
    public static List<Detector> defaultDetectors() {
        return List.of(new NonFiniteDetector(), new ExplodingGradientDetector(), new VanishingGradientDetector(),
                new DyingReluDetector(), new SaturationDetector(), new OscillatingLossDetector(), new SlowProgressDetector(),
                new UpdateRatioDetector(), new ValidationDivergenceDetector(), new PredictionCollapseDetector(),
                new SingleClassLabelsDetector());
    }

    /**
     * Adds a step and evaluates the step-level detectors (those that read only sampled signals on
     * sampled steps only, see {@link Detector#sampledOnly()}); @return the findings that fire now
     */
    public List<Finding> onStep(StepSignals step) {
        window.add(step);
        boolean sampled = step.sampled();
        List<Finding> out = new ArrayList<>();
        for (Episode e : episodes) {
            Detector d = e.detector();
            if (!d.epochLevel() && (sampled || !d.sampledOnly())) {
                e.evaluate(window).ifPresent(out::add);
            }
        }
        return out;
    }

    /** Adds an epoch and evaluates the epoch-level detectors; @return the findings that fire now */
    public List<Finding> onEpoch(EpochSignals epoch) {
        window.addEpoch(epoch);
        return evaluate(true);
    }

    private List<Finding> evaluate(boolean epochLevel) {
        List<Finding> out = new ArrayList<>();
        for (Episode e : episodes) {
            if (e.detector().epochLevel() == epochLevel) {
                e.evaluate(window).ifPresent(out::add);
            }
        }
        return out;
    }

    /** @return the window */
    public SignalWindow window() {
        return window;
    }

    /** @return the episodes, one per detector (unmodifiable) */
    public List<Episode> episodes() {
        return Collections.unmodifiableList(episodes);
    }
}
