package dev.stethoscope.listeners.core;

/**
 * A bounded wait on a monitor's background thread timed out (see {@link BackgroundWorker}): the
 * analysis that waited is skipped; inside a listener it is recorded like any other monitor failure.
 */
public class BackgroundTimeoutException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** @param message what waited and for how long */
    public BackgroundTimeoutException(String message) {
        super(message);
    }
}
