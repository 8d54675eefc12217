package dev.stethoscope.listeners.core;

/** Thrown by a fail-fast monitor when its analysis raised a checked exception. */
public class MonitorFailedException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param monitor the monitor's name
     * @param phase   the callback or analysis that failed
     * @param cause   the exception it raised
     */
    public MonitorFailedException(String monitor, String phase, Throwable cause) {
        super("Stethoscope monitor '" + monitor + "' failed in " + phase + " (fail-fast is set)", cause);
    }
}
