package dev.stethoscope.listeners.records;

import java.util.List;

/**
 * The full per-example training-dynamics table of all N training examples at one epoch (record
 * type {@value #TYPE_ID}): one entry per example index 0..N-1 in every column (examples never
 * observed have count 0 and NaN statistics).
 *
 * <p>Published as <em>static info</em> by
 * {@link dev.stethoscope.listeners.dynamics.TrainingDynamicsListener}: a StatsStorage keeps one
 * static-info record per session, type and worker, so each publication replaces the previous
 * one and the stored table stays one table (O(N)) however many epochs run. Columns are float32
 * (ints for labels and counts) to keep it compact: about 48 bytes per example.
 *
 * @param tableEpoch   epoch at whose end the table was taken
 * @param numExamples  N
 * @param numClasses   number of classes
 * @param given        given label per example (-1: never observed)
 * @param predicted    predicted label per example, latest observation
 * @param count        observations per example
 * @param forgetting   forgetting events per example
 * @param learnedSince learned-since epoch per example (-1: not learned)
 * @param combined     combined suspicion score per example
 * @param aum          area under the margin
 * @param confidence   mean probability of the given label
 * @param variability  its standard deviation
 * @param correctness  fraction of observations predicted right
 * @param meanLoss     mean loss
 * @param lastLoss     latest loss
 * @param flipped      known flipped indices of the run (empty if unknown)
 */
public record SuspectTable(int tableEpoch, int numExamples, int numClasses, int[] given, int[] predicted, int[] count,
                           int[] forgetting, int[] learnedSince, float[] combined, float[] aum, float[] confidence,
                           float[] variability, float[] correctness, float[] meanLoss, float[] lastLoss,
                           long[] flipped) {
    public static final String TYPE_ID = "Stethoscope.SuspectTable";

    /** Names of the float columns, in order. */
    public static final List<String> FLOAT_COLUMNS = List.of("combined", "aum", "confidence", "variability",
            "correctness", "meanLoss", "lastLoss");

    /** Checks that every column has numExamples entries; missing flipped indices become empty. */
    public SuspectTable {
        flipped = flipped == null ? new long[0] : flipped;
        for (int[] a : new int[][]{given, predicted, count, forgetting, learnedSince}) {
            if (a == null || a.length != numExamples) {
                throw new IllegalArgumentException("Every column must have " + numExamples + " entries");
            }
        }
        for (float[] a : new float[][]{combined, aum, confidence, variability, correctness, meanLoss, lastLoss}) {
            if (a == null || a.length != numExamples) {
                throw new IllegalArgumentException("Every column must have " + numExamples + " entries");
            }
        }
    }

    /**
     * A table from its columns.
     *
     * @param floats one array of length N per {@link #FLOAT_COLUMNS} entry
     */
    public static SuspectTable of(int tableEpoch, int numClasses, int[] given, int[] predicted, int[] count,
                                  int[] forgetting, int[] learnedSince, float[][] floats, long[] flipped) {
        if (floats.length != FLOAT_COLUMNS.size()) {
            throw new IllegalArgumentException("Expected " + FLOAT_COLUMNS.size() + " float columns " + FLOAT_COLUMNS);
        }
        return new SuspectTable(tableEpoch, given.length, numClasses, given, predicted, count, forgetting, learnedSince,
                floats[0], floats[1], floats[2], floats[3], floats[4], floats[5], floats[6], flipped);
    }

    /** A float column by name ({@link #FLOAT_COLUMNS}); throws listing valid names. */
    public float[] column(String name) {
        return switch (name) {
            case "combined" -> combined;
            case "aum" -> aum;
            case "confidence" -> confidence;
            case "variability" -> variability;
            case "correctness" -> correctness;
            case "meanLoss" -> meanLoss;
            case "lastLoss" -> lastLoss;
            default -> throw new IllegalArgumentException("No column '" + name + "'. Valid: " + FLOAT_COLUMNS);
        };
    }
}
