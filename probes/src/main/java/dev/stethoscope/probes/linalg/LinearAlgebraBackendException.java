package dev.stethoscope.probes.linalg;

/**
 * Reports a failed {@link BackendSelfTest}: the message is its {@link BackendSelfTest.Result#summary()}
 * (what is wrong, what Stethoscope does instead, and the fix). Listeners publish it on the page's
 * Monitor errors panel; it is not thrown by the analyses, which use the route that passed.
 */
public class LinearAlgebraBackendException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /** An exception whose message is {@code result.summary()}. */
    public LinearAlgebraBackendException(BackendSelfTest.Result result) {
        super(result.summary(), null, false, false);
    }
}
