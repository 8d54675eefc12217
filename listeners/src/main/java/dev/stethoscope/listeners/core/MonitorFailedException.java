package dev.stethoscope.listeners.core;

/** Thrown by a fail-fast monitor when its analysis raised a checked exception. */
public class MonitorFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public MonitorFailedException(String monitor, String phase, Throwable cause) {
        super("Stethoscope monitor '" + monitor + "' failed in " + phase + " (fail-fast is set)", cause);
    }
}
