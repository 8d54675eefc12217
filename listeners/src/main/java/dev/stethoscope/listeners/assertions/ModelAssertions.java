package dev.stethoscope.listeners.assertions;

import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;

/**
 * Entry point of the model assertions API, after Kang et al.'s model assertions (OMG) but over
 * training: the built-in detectors are on by default, {@code assertThat("name", window -> severity)}
 * adds one of yours, {@code assertExamples("name", message, (input, output, label) -> severity)}
 * one per example (training batches, or held-out data on a copy), {@code assertTimeConsistency}
 * one over the predicted classes of a fixed set across epochs (flicker), {@code without("id")}
 * turns a built-in off and {@code action("id", STOP)} stops training when it fires (also LOG,
 * RECORD, CHECKPOINT, SEND_TO_SUSPECTS; several at once). See {@link AssertionListener} and
 * docs/ASSERTIONS.md.
 *
 * <pre>{@code
 * AssertionListener a = ModelAssertions.builder(net, storage)
 *         .assertThat("loss-under-10", w -> w.latest().loss() > 10 ? Severity.ERROR : Severity.NONE)
 *         .action("loss-under-10", AssertionListener.Action.STOP)
 *         .attach();
 * }</pre>
 */
public final class ModelAssertions {
    private ModelAssertions() {
    }

    /** @return the builder of an {@link AssertionListener} for {@code model}, publishing to {@code router} */
    public static AssertionListener.Builder builder(Model model, StatsStorageRouter router) {
        return AssertionListener.builder(model, router);
    }
}
