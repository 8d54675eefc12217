package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.records.AssertionFinding;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.PriorityQueue;
import java.util.Set;

/**
 * One per-example or time-consistency assertion of an {@link AssertionListener}: its definition
 * (serialised) and its running state (not serialised: a deserialised listener starts afresh).
 */
final class ExampleRule implements Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    /** Where the rule's examples come from. */
    enum Kind {
        /** The training batches, from the training forward pass. */
        TRAINING("training"),
        /** A held-out set, on a copy of the network, on a schedule. */
        HELD_OUT("held-out"),
        /** Time consistency over epochs on a fixed set, on a copy of the network. */
        FLICKER("fixed-set");

        final String source;

        Kind(String source) {
            this.source = source;
        }
    }

    final String id;
    final String message;
    final Kind kind;
    final AssertionListener.ExampleAssertion fn;
    final DataSet set;
    final Schedule schedule;
    final int window;
    final int allowed;
    /** The stable indices the set carries, or null (then its rows are named by position). */
    final long[] setIndices;

    private transient TopN top;
    private transient long firstStep;
    private transient long lastStep;
    private transient int[][] history;
    private transient int evaluations;
    private transient Set<Integer> flickering;

    ExampleRule(String id, String message, Kind kind, AssertionListener.ExampleAssertion fn, DataSet set,
                Schedule schedule, int window, int allowed) {
        this.id = id;
        this.message = message;
        this.kind = kind;
        this.fn = fn;
        this.set = set;
        this.schedule = schedule;
        this.window = window;
        this.allowed = allowed;
        this.setIndices = set != null && ExampleIndex.hasIndices(set) ? ExampleIndex.indicesOf(set) : null;
    }

    /** The running top-N of the training batches since the last publication (created on demand). */
    TopN top(int n) {
        if (top == null) {
            top = new TopN(n);
            firstStep = -1;
        }
        return top;
    }

    /** Notes that step {@code step} flagged at least one example. */
    void flaggedAt(long step) {
        if (firstStep < 0) {
            firstStep = step;
        }
        lastStep = step;
    }

    long firstStep() {
        return firstStep;
    }

    long lastStep() {
        return lastStep;
    }

    /** Forgets the training aggregation (after it was published). */
    void resetTop() {
        top = null;
    }

    /**
     * Adds one evaluation's predicted classes of the fixed set; returns the rows that flicker now
     * (more than {@code allowed} changes of class within the last {@code window} evaluations) and
     * did not at the previous evaluation, with their number of changes.
     */
    List<int[]> flickerStep(int[] predicted) {
        if (history == null || history[0].length != predicted.length) {
            history = new int[window][];
            evaluations = 0;
            flickering = new HashSet<>();
        }
        history[evaluations % window] = predicted.clone();
        evaluations++;
        int filled = Math.min(evaluations, window);
        List<int[]> started = new ArrayList<>();
        Set<Integer> now = new HashSet<>();
        for (int i = 0; i < predicted.length; i++) {
            int changes = 0;
            for (int k = 1; k < filled; k++) {
                if (classAt(k, i) != classAt(k - 1, i)) {
                    changes++;
                }
            }
            if (changes > allowed) {
                now.add(i);
                if (!flickering.contains(i)) {
                    started.add(new int[]{i, changes});
                }
            }
        }
        flickering = now;
        return started;
    }

    /** Evaluations in the window now (at most {@code window}). */
    int filled() {
        return Math.min(evaluations, window);
    }

    /** The window's predicted classes of row {@code row}, oldest first. */
    int[] historyOf(int row) {
        int filled = Math.min(evaluations, window);
        int[] out = new int[filled];
        for (int k = 0; k < filled; k++) {
            out[k] = classAt(k, row);
        }
        return out;
    }

    /** Class of row {@code row} at the k-th evaluation of the window (0 = oldest). */
    private int classAt(int k, int row) {
        int filled = Math.min(evaluations, window);
        int start = evaluations - filled;
        return history[(start + k) % window][row];
    }

    /** The name of row {@code row} of the set. */
    long setIndex(int row) {
        return setIndices != null ? setIndices[row] : row;
    }

    String setIdentity() {
        return setIndices != null ? "example-index" : "set-position";
    }

    /** A flagged example waiting in a {@link TopN}: its example index (-1: none), its stream position and the rest. */
    record Candidate(long exampleIndex, long position, double severity, int given, int predicted, int[] history,
                     float lo, float hi, byte[] pixels) {
        AssertionFinding.Example toExample(boolean byExampleIndex) {
            return new AssertionFinding.Example(byExampleIndex ? exampleIndex : position, severity, given, predicted,
                    history, lo, hi, pixels);
        }
    }

    /** The n flagged examples of highest severity seen, and how many were flagged in all. */
    static final class TopN {
        private final int n;
        private final PriorityQueue<Candidate> heap = new PriorityQueue<>(
                Comparator.comparingDouble(Candidate::severity).thenComparing(Comparator.comparingLong(Candidate::position).reversed()));
        private long count;
        private long[] featureShape = new long[0];
        private boolean allIndexed = true;

        TopN(int n) {
            this.n = n;
        }

        /** Whether an example of {@code severity} would be kept (count it with {@link #add}). */
        boolean wouldKeep(double severity) {
            return heap.size() < n || severity > heap.peek().severity();
        }

        /** Counts one flagged example; keeps {@code c} when it is among the top n (null: counted only). */
        void add(Candidate c, double severity, boolean indexed) {
            count++;
            allIndexed &= indexed;
            if (c != null && wouldKeep(severity)) {
                heap.add(c);
                if (heap.size() > n) {
                    heap.poll();
                }
            }
        }

        void featureShape(long[] shape) {
            this.featureShape = shape;
        }

        long[] featureShape() {
            return featureShape;
        }

        long count() {
            return count;
        }

        /** Whether every counted example had a stable example index. */
        boolean allIndexed() {
            return allIndexed;
        }

        /** The kept examples, highest severity first (ties: earliest first). */
        List<AssertionFinding.Example> examples(boolean byExampleIndex) {
            List<Candidate> c = new ArrayList<>(heap);
            c.sort(Comparator.comparingDouble(Candidate::severity).reversed().thenComparingLong(Candidate::position));
            return c.stream().map(x -> x.toExample(byExampleIndex)).toList();
        }
    }

    /**
     * The features of one example quantised to bytes as in the Suspects record: [0, 1] maps to
     * bytes exactly when the values lie in it, else [min, max]; returns {lo, hi} and fills {@code out}.
     */
    static float[] quantise(INDArray example, byte[] out) {
        float[] v = example.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float f : v) {
            if (Float.isFinite(f)) {
                lo = Math.min(lo, f);
                hi = Math.max(hi, f);
            }
        }
        if (lo > hi) {
            Arrays.fill(out, (byte) 0);
            return new float[]{Float.NaN, Float.NaN};
        }
        if (lo >= 0 && hi <= 1) {
            lo = 0;
            hi = 1;
        }
        float span = hi - lo;
        for (int j = 0; j < v.length; j++) {
            float x = Float.isFinite(v[j]) ? v[j] : lo;
            out[j] = span == 0 ? 0 : (byte) Math.round((x - lo) / span * 255f);
        }
        return new float[]{lo, hi};
    }
}
