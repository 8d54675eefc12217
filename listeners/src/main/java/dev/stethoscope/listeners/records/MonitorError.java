package dev.stethoscope.listeners.records;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * An exception raised inside a monitor, recorded (type {@value #TYPE_ID}) so the UI can show it;
 * training went on (unless the monitor was set to fail fast).
 *
 * @param monitor        the monitor's name
 * @param phase          where it failed (e.g. "iterationDone", "epoch-end")
 * @param exceptionClass the exception's class name
 * @param message        its message
 * @param stackTrace     its stack trace, cut at {@value #MAX_TRACE_CHARS} characters
 * @param count          how many times this failure (same monitor, phase and exception class)
 *                       happened so far, this one included; monitors publish a repeated failure
 *                       only at counts 1, 2, 4, 8, ... (0, as a record without it decodes, means 1)
 */
public record MonitorError(String monitor, String phase, String exceptionClass, String message, String stackTrace,
                           int count) {
    public static final String TYPE_ID = "Stethoscope.Error";
    /** Longest stack trace kept. */
    public static final int MAX_TRACE_CHARS = 8000;

    /** Checks the count (a missing count, 0, becomes 1). */
    public MonitorError {
        if (count == 0) {
            count = 1;
        }
        if (count < 1) {
            throw new IllegalArgumentException("count must be >= 1, got " + count);
        }
    }

    /** The error record of {@code t}, count 1. */
    public static MonitorError of(String monitor, String phase, Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String s = sw.toString();
        return new MonitorError(monitor, phase, t.getClass().getName(), String.valueOf(t.getMessage()),
                s.length() > MAX_TRACE_CHARS ? s.substring(0, MAX_TRACE_CHARS) + "\n..." : s, 1);
    }

    /** This error with another occurrence count (>= 1). */
    public MonitorError withCount(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("count must be >= 1, got " + n);
        }
        return new MonitorError(monitor, phase, exceptionClass, message, stackTrace, n);
    }
}
