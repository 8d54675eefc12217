package dev.stethoscope.listeners.assertions;

import dev.stethoscope.probes.assertions.Finding;

/**
 * Thrown by an {@link AssertionListener} from a training callback to stop training when an
 * assertion whose action is {@link AssertionListener.Action#STOP} fires: it propagates out of the
 * user's {@code fit} (DL4J has no other way for a listener to end training). The finding's record
 * is already published. Catch it around {@code fit}; the network stays usable.
 */
public class AssertionStopException extends RuntimeException {
    private static final long serialVersionUID = 1L;
    private final Finding finding;

    /** @param finding the finding that stopped training */
    public AssertionStopException(Finding finding) {
        super("Training stopped by assertion: " + finding);
        this.finding = finding;
    }

    /** The finding that stopped training. */
    public Finding finding() {
        return finding;
    }
}
