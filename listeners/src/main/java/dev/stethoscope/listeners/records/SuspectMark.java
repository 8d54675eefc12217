package dev.stethoscope.listeners.records;

import java.util.List;

/**
 * A user's decision about one suspected training example, made on the Suspects page (or any
 * other client) and stored as an update record (type {@value #TYPE_ID}) in the run's
 * StatsStorage, so it survives reopening a file-backed run. For each example the latest mark (by
 * timestamp) wins; decision {@code "clear"} removes an earlier mark.
 *
 * @param index     the example's stable index (>= 0)
 * @param given     its label in the data set
 * @param decision  one of {@link #DECISIONS}
 * @param corrected the label it should have (decision "mislabeled"), else -1
 */
public record SuspectMark(long index, int given, String decision, int corrected) {
    public static final String TYPE_ID = "Stethoscope.SuspectMark";

    /** Valid decisions. */
    public static final List<String> DECISIONS = List.of("mislabeled", "fine", "clear");

    /** Checks the decision and index; the corrected label becomes -1 unless the decision is "mislabeled". */
    public SuspectMark {
        if (!DECISIONS.contains(decision)) {
            throw new IllegalArgumentException("Unknown decision '" + decision + "'. Valid: " + DECISIONS);
        }
        if ("mislabeled".equals(decision) && corrected < 0) {
            throw new IllegalArgumentException("A 'mislabeled' mark needs the corrected label (>= 0)");
        }
        if (index < 0) {
            throw new IllegalArgumentException("Example index must be >= 0, got " + index);
        }
        if (!"mislabeled".equals(decision)) {
            corrected = -1;
        }
    }
}
