package dev.stethoscope.listeners.records;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * One firing of a model assertion during training (record type {@value #TYPE_ID}): a built-in
 * training-bug detector or configuration lint ({@code dev.stethoscope.probes.assertions}), or a
 * user assertion. Published by {@code AssertionListener} once per episode of the condition (and
 * once more when it escalates from WARNING to ERROR); a per-example assertion publishes one per
 * evaluation that flagged examples, a time-consistency assertion one per evaluation in which
 * examples started to flicker.
 *
 * <p>The components after {@code action} were appended in a later version (records written
 * before decode with their defaults: no examples, no checkpoint).
 *
 * @param detector     the assertion's id ({@code "non-finite"}, {@code "dying-relu"}, a user assertion's name)
 * @param severity     {@code "WARNING"} or {@code "ERROR"}
 * @param message      what is wrong and what usually fixes it
 * @param unit         the unit of {@code from}/{@code to}: {@code "step"} (iterations), {@code "epoch"} or
 *                     {@code "attach"} (configuration lint and the first batch: no range)
 * @param from         first step (or epoch) of the evidence that fired it
 * @param to           last step (or epoch) of that evidence, inclusive
 * @param user         true for a user assertion, false for a built-in detector or lint
 * @param action       what the listener did besides recording, comma-separated in this order:
 *                     {@code "record"} (nothing else), {@code "log"}, {@code "stop"} (training was stopped),
 *                     {@code "checkpoint"} (the model was saved, see {@code checkpoint}),
 *                     {@code "send-to-suspects"} (the flagged examples are in the suspects review list)
 * @param source       where flagged examples come from: {@code ""} (not an example assertion),
 *                     {@code "training"} (the training batches of the range), {@code "held-out"} (a
 *                     held-out set, on a copy of the network) or {@code "fixed-set"} (the fixed set of a
 *                     time-consistency assertion, on a copy of the network)
 * @param identity     what an example's {@code index} is: {@code ""} (no examples),
 *                     {@code "example-index"} (the stable index its DataSet carried, see ExampleIndex),
 *                     {@code "metadata"} or {@code "content-hash"} (the index ExampleIdentity gave the training
 *                     example from its DataVec metadata or its content: the numbering the suspects monitor uses
 *                     for the same training; see {@link #namesExamples()}),
 *                     {@code "stream-position"} (its position among the training rows of the epoch, in
 *                     the order they were trained: the data-set index only for an unshuffled iterator) or
 *                     {@code "set-position"} (its row in the held-out or fixed set)
 * @param flagged      the number of examples flagged in the range (all of them; {@code examples} keeps the top ones)
 * @param numClasses   the width of the network's output (labels of the examples are in [0, numClasses)), 0 if unknown
 * @param featureShape the shape of one example's features, without the batch dimension
 * @param examples     the flagged examples with the highest severity, highest first (at most the
 *                     listener's top-N; {@code flagged - examples.size()} more were flagged)
 * @param checkpoint   the file name of the model saved by the CHECKPOINT action (in the listener's
 *                     checkpoint directory), {@code ""} if none was saved
 */
public record AssertionFinding(String detector, String severity, String message, String unit, long from, long to,
                               boolean user, String action, String source, String identity, long flagged,
                               int numClasses, long[] featureShape, List<Example> examples, String checkpoint) {
    /** The record type id. */
    public static final String TYPE_ID = "Stethoscope.Assertion";
    private static final Set<String> SEVERITIES = Set.of("WARNING", "ERROR");
    private static final Set<String> UNITS = Set.of("step", "epoch", "attach");
    /** The action names a record may carry, in their order in {@code action}. */
    public static final List<String> ACTIONS = List.of("record", "log", "stop", "checkpoint", "send-to-suspects");
    private static final Set<String> SOURCES = Set.of("", "training", "held-out", "fixed-set");
    private static final Set<String> IDENTITIES = Set.of("", "example-index", "metadata", "content-hash",
            "stream-position", "set-position");
    /** The identities whose indices are example indices of the training data (the suspects monitor's numbering). */
    public static final Set<String> EXAMPLE_INDEX_IDENTITIES = Set.of("example-index", "metadata", "content-hash");

    /** Whether the examples' indices are example indices (tracked, from metadata or from a content hash), not positions. */
    public boolean namesExamples() {
        return EXAMPLE_INDEX_IDENTITIES.contains(identity);
    }

    /**
     * A flagged example: its index (see {@code identity}), the severity the assertion gave it
     * (&gt; 0), its label and predicted class (-1: unknown), the predicted class at each evaluation
     * of the window of a time-consistency assertion (oldest first; empty otherwise), and its raw
     * features as in {@link Suspects.Suspect}: {@code pixels} holds prod(featureShape) bytes, value
     * = lo + byte/255 * (hi - lo); lo = hi = NaN and no pixels when they were not captured.
     */
    public record Example(long index, double severity, int given, int predicted, int[] history, float lo, float hi,
                          byte[] pixels) {
        /** A missing history becomes empty. */
        public Example {
            history = history == null ? new int[0] : history;
        }

        /** The decoded features, or null if they were not captured. */
        public float[] features() {
            if (pixels == null || Float.isNaN(lo)) {
                return null;
            }
            float[] out = new float[pixels.length];
            for (int j = 0; j < out.length; j++) {
                out[j] = lo + (pixels[j] & 0xff) / 255f * (hi - lo);
            }
            return out;
        }
    }

    /** A finding without examples or checkpoint (every built-in detector, lint and window assertion). */
    public AssertionFinding(String detector, String severity, String message, String unit, long from, long to,
                            boolean user, String action) {
        this(detector, severity, message, unit, from, to, user, action, "", "", 0, 0, new long[0], List.of(), "");
    }

    /** Validates the fields (a missing action, as an older record decodes, becomes {@code "log"}; missing later components their empty values). */
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
        for (String a : action.split(",")) {
            if (!ACTIONS.contains(a)) {
                throw new IllegalArgumentException("action must be comma-separated names of " + ACTIONS + ", got " + action);
            }
        }
        source = source == null ? "" : source;
        identity = identity == null ? "" : identity;
        if (!SOURCES.contains(source)) {
            throw new IllegalArgumentException("source must be one of " + SOURCES + ", got " + source);
        }
        if (!IDENTITIES.contains(identity)) {
            throw new IllegalArgumentException("identity must be one of " + IDENTITIES + ", got " + identity);
        }
        featureShape = featureShape == null ? new long[0] : featureShape;
        examples = examples == null ? List.of() : List.copyOf(examples);
        checkpoint = checkpoint == null ? "" : checkpoint;
        if (flagged < examples.size()) {
            throw new IllegalArgumentException(examples.size() + " examples but only " + flagged + " flagged");
        }
        long d = 1;
        for (long s : featureShape) {
            if (s < 0 || s > Integer.MAX_VALUE || (d *= s) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("feature shape " + Arrays.toString(featureShape));
            }
        }
        for (Example e : examples) {
            if (e == null) {
                throw new IllegalArgumentException("null example");
            }
            if (e.pixels() != null && e.pixels().length != d) {
                throw new IllegalArgumentException("example #" + e.index() + " has " + e.pixels().length
                        + " feature bytes, its shape " + Arrays.toString(featureShape) + " needs " + d);
            }
        }
    }

    /** Whether the listener took action {@code name} (one of {@link #ACTIONS}). */
    public boolean did(String name) {
        return Arrays.asList(action.split(",")).contains(name);
    }

    /** The indices of the flagged examples kept, highest severity first. */
    public long[] indices() {
        return examples.stream().mapToLong(Example::index).toArray();
    }
}
