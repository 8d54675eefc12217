package dev.stethoscope.probes.assertions;

import java.util.Objects;

/**
 * One firing of a detector.
 *
 * @param detector the detector's id (for example {@code "exploding-gradients"})
 * @param severity {@link Severity#WARNING} or {@link Severity#ERROR}
 * @param message  what is wrong and what usually fixes it
 * @param unit     the unit of {@code from}/{@code to}
 * @param from     first step (or epoch) of the evidence that fired the detector
 * @param to       last step (or epoch) of that evidence, inclusive
 */
public record Finding(String detector, Severity severity, String message, WindowUnit unit, long from, long to) implements java.io.Serializable {
    /** Validates the fields. */
    public Finding {
        Objects.requireNonNull(detector, "detector");
        Objects.requireNonNull(severity, "severity");
        Objects.requireNonNull(message, "message");
        Objects.requireNonNull(unit, "unit");
        if (severity == Severity.NONE) {
            throw new IllegalArgumentException("A finding has severity WARNING or ERROR, not NONE");
        }
        if (to < from) {
            throw new IllegalArgumentException("Range end " + to + " before its start " + from);
        }
    }

    @Override
    public String toString() {
        return severity + " " + detector + " [" + unit.name().toLowerCase() + " " + from + ".." + to + "]: " + message;
    }
}
