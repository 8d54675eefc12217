package dev.stethoscope.probes.assertions;

/**
 * What a {@link Detector} sees in a window right now: either absent, or present with a
 * severity, a message and the range of the evidence.
 *
 * @param severity {@link Severity#NONE} when absent
 * @param message  what is wrong and what usually fixes it (empty when absent)
 * @param unit     the unit of the range
 * @param from     first step/epoch of the evidence
 * @param to       last step/epoch of the evidence
 */
public record Condition(Severity severity, String message, WindowUnit unit, long from, long to) implements java.io.Serializable {
    /** The condition is not present. */
    public static final Condition ABSENT = new Condition(Severity.NONE, "", WindowUnit.STEP, 0, 0);

    /** @return a present condition over steps {@code from..to} */
    public static Condition steps(Severity severity, String message, long from, long to) {
        return new Condition(severity, message, WindowUnit.STEP, from, to);
    }

    /** @return a present condition over epochs {@code from..to} */
    public static Condition epochs(Severity severity, String message, long from, long to) {
        return new Condition(severity, message, WindowUnit.EPOCH, from, to);
    }

    /** @return whether the condition is present (severity above NONE) */
    public boolean present() {
        return severity != Severity.NONE;
    }

    /** @return this condition as a finding of {@code detector} */
    public Finding toFinding(String detector) {
        return new Finding(detector, severity, message, unit, from, to);
    }
}
