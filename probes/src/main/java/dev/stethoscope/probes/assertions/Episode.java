package dev.stethoscope.probes.assertions;

import java.util.Optional;

/**
 * The once-per-episode logic around one {@link Detector}. An episode starts at the first
 * evaluation where the detector's condition is present, and the detector fires then. While the
 * episode lasts it does not fire again, except once when the severity escalates from WARNING to
 * ERROR. The episode ends (the detector re-arms) after the condition has been absent for
 * {@code rearmAfter} consecutive evaluations (steps, when evaluated once per step); a later
 * presence starts a new episode and fires again.
 */
public final class Episode implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** Default re-arm delay: 50 consecutive evaluations without the condition. */
    public static final int DEFAULT_REARM_AFTER = 50;

    private final Detector detector;
    private final int rearmAfter;
    private boolean active;
    private Severity fired = Severity.NONE;
    private int absentFor;
    private int episodes;

    /** @param detector the detector; re-arms after {@value #DEFAULT_REARM_AFTER} absent evaluations */
    public Episode(Detector detector) {
        this(detector, DEFAULT_REARM_AFTER);
    }

    /**
     * @param detector   the detector
     * @param rearmAfter consecutive evaluations without the condition before a new episode may fire (at least 1)
     */
    public Episode(Detector detector, int rearmAfter) {
        if (rearmAfter < 1) {
            throw new IllegalArgumentException("rearmAfter must be at least 1, got " + rearmAfter);
        }
        this.detector = detector;
        this.rearmAfter = rearmAfter;
    }

    /**
     * Evaluates the detector on the window.
     *
     * @return a finding when the detector fires now (start of an episode, or escalation to ERROR)
     */
    public Optional<Finding> evaluate(SignalWindow window) {
        Condition c = detector.check(window);
        if (c.present()) {
            absentFor = 0;
            if (!active) {
                active = true;
                episodes++;
                fired = c.severity();
                return Optional.of(c.toFinding(detector.id()));
            }
            if (c.severity().ordinal() > fired.ordinal()) {
                fired = c.severity();
                return Optional.of(c.toFinding(detector.id()));
            }
            return Optional.empty();
        }
        if (active && ++absentFor >= rearmAfter) {
            active = false;
            fired = Severity.NONE;
        }
        return Optional.empty();
    }

    /** @return the detector */
    public Detector detector() {
        return detector;
    }

    /** @return whether an episode is in progress (fired and not re-armed yet) */
    public boolean active() {
        return active;
    }

    /** @return the number of episodes started so far */
    public int episodes() {
        return episodes;
    }
}
