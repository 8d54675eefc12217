package dev.stethoscope.listeners.records;

import java.util.Objects;
import java.util.Set;

/**
 * One firing of a model assertion during training (record type {@value #TYPE_ID}): a built-in
 * training-bug detector or configuration lint ({@code dev.stethoscope.probes.assertions}), or a
 * user assertion. Published by {@code AssertionListener} once per episode of the condition (and
 * once more when it escalates from WARNING to ERROR).
 *
 * @param detector the assertion's id ({@code "non-finite"}, {@code "dying-relu"}, a user assertion's name)
 * @param severity {@code "WARNING"} or {@code "ERROR"}
 * @param message  what is wrong and what usually fixes it
 * @param unit     the unit of {@code from}/{@code to}: {@code "step"} (iterations), {@code "epoch"} or
 *                 {@code "attach"} (configuration lint and the first batch: no range)
 * @param from     first step (or epoch) of the evidence that fired it
 * @param to       last step (or epoch) of that evidence, inclusive
 * @param user     true for a user assertion, false for a built-in detector or lint
 * @param action   what the listener did besides recording: {@code "record"}, {@code "log"} or
 *                 {@code "stop"} (training was stopped)
 */
public record AssertionFinding(String detector, String severity, String message, String unit, long from, long to,
                               boolean user, String action) {
    /** The record type id. */
    public static final String TYPE_ID = "Stethoscope.Assertion";
    private static final Set<String> SEVERITIES = Set.of("WARNING", "ERROR");
    private static final Set<String> UNITS = Set.of("step", "epoch", "attach");
    private static final Set<String> ACTIONS = Set.of("record", "log", "stop");

    /** Validates the fields (a missing action, as an older record decodes, becomes {@code "log"}). */
    public AssertionFinding {
        Objects.requireNonNull(detector, "detector");
        Objects.requireNonNull(message, "message");
        if (!SEVERITIES.contains(severity)) {
            throw new IllegalArgumentException("severity must be one of " + SEVERITIES + ", got " + severity);
        }
        if (!UNITS.contains(unit)) {
            throw new IllegalArgumentException("unit must be one of " + UNITS + ", got " + unit);
        }
        if (to < from) {
            throw new IllegalArgumentException("Range end " + to + " before its start " + from);
        }
        if (action == null) {
            action = "log";
        }
        if (!ACTIONS.contains(action)) {
            throw new IllegalArgumentException("action must be one of " + ACTIONS + ", got " + action);
        }
    }
}
