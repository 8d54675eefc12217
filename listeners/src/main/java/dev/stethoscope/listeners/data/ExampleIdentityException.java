package dev.stethoscope.listeners.data;

/**
 * Why a per-example monitor cannot follow the training examples (published in a
 * {@link dev.stethoscope.listeners.records.MonitorError} record, never thrown out of training): for example,
 * random augmentation changes every example's content hash from one epoch to the next.
 */
public final class ExampleIdentityException extends RuntimeException {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    /** An identity failure explained by {@code message}. */
    public ExampleIdentityException(String message) {
        super(message);
    }
}
