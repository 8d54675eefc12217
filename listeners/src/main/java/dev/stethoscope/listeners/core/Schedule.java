package dev.stethoscope.listeners.core;

import java.io.Serializable;
import java.util.Arrays;
import java.util.Objects;
import java.util.TreeSet;

/**
 * When a monitor runs: the one value type every listener builder takes ({@code .schedule(...)}).
 *
 * <ul>
 *   <li>{@link #iterations(int) iterations(n)}: every n-th training iteration (minibatch);</li>
 *   <li>{@link #epochs(int) epochs(k)}: at the end of every k-th epoch (epochs 1-based: epoch 1 is
 *       the end of the first pass over the data);</li>
 *   <li>{@link #atEpochs(int...) atEpochs(1, 2, 5, 10, 20)}: at the end of the listed epochs
 *       ({@link #parse} reads the same from text, e.g. {@code "1,2,5,10,20"});</li>
 *   <li>{@link #onCheckpoints()}: whenever DL4J's {@code CheckpointListener} saved a checkpoint;</li>
 *   <li>{@link #never()}: not at all during training (only what {@code close()} does).</li>
 * </ul>
 * An epoch schedule may also include the last epoch ({@link #andLast()}): the final parameters are
 * then analysed once, at the last epoch's end when the run length is known
 * ({@link #totalEpochs(int)}), else by the listener's {@code close()} after {@code fit} returns.
 *
 * <p>Immutable and {@link Serializable}.
 */
public final class Schedule implements Serializable {
    private static final long serialVersionUID = 1L;

    /** What a schedule counts. */
    public enum Kind {
        /** Every n-th iteration. */
        ITERATIONS,
        /** Every k-th epoch end. */
        EPOCHS,
        /** Listed epoch ends. */
        EPOCH_LIST,
        /** When a checkpoint is saved. */
        CHECKPOINTS,
        /** Never during training. */
        NEVER
    }

    private final Kind kind;
    private final int period;
    private final int[] epochs;
    private final boolean last;
    private final Integer totalEpochs;

    private Schedule(Kind kind, int period, int[] epochs, boolean last, Integer totalEpochs) {
        this.kind = kind;
        this.period = period;
        this.epochs = epochs;
        this.last = last;
        this.totalEpochs = totalEpochs;
    }

    /** Every {@code n}-th iteration (n >= 1). */
    public static Schedule iterations(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("Schedule.iterations needs n >= 1, got " + n);
        }
        return new Schedule(Kind.ITERATIONS, n, new int[0], false, null);
    }

    /** At the end of every {@code k}-th epoch (k >= 1; epochs 1-based). */
    public static Schedule epochs(int k) {
        if (k < 1) {
            throw new IllegalArgumentException("Schedule.epochs needs k >= 1, got " + k);
        }
        return new Schedule(Kind.EPOCHS, k, new int[0], false, null);
    }

    /** At the end of each listed epoch (1-based, any order, duplicates ignored). */
    public static Schedule atEpochs(int... epochs) {
        Objects.requireNonNull(epochs, "epochs");
        if (epochs.length == 0) {
            throw new IllegalArgumentException("Schedule.atEpochs needs at least one epoch; use Schedule.never()");
        }
        TreeSet<Integer> s = new TreeSet<>();
        for (int e : epochs) {
            if (e < 1) {
                throw new IllegalArgumentException("Epochs are 1-based (epoch 1 ends the first pass); got " + e);
            }
            s.add(e);
        }
        return new Schedule(Kind.EPOCH_LIST, 0, s.stream().mapToInt(Integer::intValue).toArray(), false, null);
    }

    /** Whenever DL4J's {@code CheckpointListener} (attached to the same network) saved a checkpoint. */
    public static Schedule onCheckpoints() {
        return new Schedule(Kind.CHECKPOINTS, 0, new int[0], false, null);
    }

    /** Never during training. */
    public static Schedule never() {
        return new Schedule(Kind.NEVER, 0, new int[0], false, null);
    }

    /**
     * Reads a schedule from text, as command lines and settings write it:
     * {@code "iterations:10"}, {@code "epochs:2"}, {@code "epochs:2+last"}, {@code "1,2,5,10"},
     * {@code "1,2,5,10+last"}, {@code "checkpoints"}, {@code "never"}.
     *
     * @throws IllegalArgumentException naming the accepted forms
     */
    public static Schedule parse(String text) {
        String t = Objects.requireNonNull(text, "text").trim().toLowerCase(java.util.Locale.ROOT);
        boolean last = t.endsWith("+last");
        if (last) {
            t = t.substring(0, t.length() - "+last".length()).trim();
        }
        Schedule s;
        try {
            if (t.startsWith("iterations:")) {
                s = iterations(Integer.parseInt(t.substring("iterations:".length()).trim()));
            } else if (t.startsWith("epochs:")) {
                s = epochs(Integer.parseInt(t.substring("epochs:".length()).trim()));
            } else if (t.equals("checkpoints")) {
                s = onCheckpoints();
            } else if (t.equals("never")) {
                s = never();
            } else {
                s = atEpochs(Arrays.stream(t.split(",")).map(String::trim).mapToInt(Integer::parseInt).toArray());
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("Cannot read schedule '" + text + "'; use iterations:N, epochs:K, "
                    + "an epoch list like 1,2,5,10, checkpoints or never (epoch forms may end with +last)", e);
        }
        if (last && (s.kind == Kind.ITERATIONS || s.kind == Kind.CHECKPOINTS)) {
            throw new IllegalArgumentException("'+last' applies to epoch schedules, not '" + text + "'");
        }
        return last ? s.andLast() : s;
    }

    /** This schedule, also at the last epoch (see the class comment). Only for epoch schedules and never(). */
    public Schedule andLast() {
        if (kind == Kind.ITERATIONS || kind == Kind.CHECKPOINTS) {
            throw new IllegalStateException("andLast() applies to epoch schedules, not " + this);
        }
        return new Schedule(kind, period, epochs, true, totalEpochs);
    }

    /**
     * The run's length in epochs, so that the last epoch is recognised at its end (with
     * {@link #andLast()}) instead of by {@code close()}.
     */
    public Schedule totalEpochs(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("totalEpochs must be >= 1, got " + n);
        }
        return new Schedule(kind, period, epochs, last, n);
    }

    /** What this schedule counts: iterations, epochs, an epoch list, checkpoints, or never. */
    public Kind kind() {
        return kind;
    }

    /** The period n of {@link #iterations} or k of {@link #epochs}; 0 for the other kinds. */
    public int period() {
        return period;
    }

    /** The listed epochs of {@link #atEpochs}, ascending (a copy); empty for the other kinds. */
    public int[] listedEpochs() {
        return epochs.clone();
    }

    /** Whether the last epoch is included ({@link #andLast()}). */
    public boolean includesLast() {
        return last;
    }

    /** The run length given with {@link #totalEpochs}, or null. */
    public Integer totalEpochs() {
        return totalEpochs;
    }

    /** Whether this schedule counts epochs ({@link Kind#EPOCHS}, {@link Kind#EPOCH_LIST}). */
    public boolean isEpochBased() {
        return kind == Kind.EPOCHS || kind == Kind.EPOCH_LIST;
    }

    /** Whether the monitor runs after iteration {@code iteration} (DL4J's 0-based iteration count). */
    public boolean dueAtIteration(long iteration) {
        return kind == Kind.ITERATIONS && iteration % period == 0;
    }

    /**
     * Whether the monitor runs at the end of epoch {@code completed} (1-based): listed or on the
     * period, or the last epoch of a schedule that includes it and knows the run length.
     */
    public boolean dueAtEpochEnd(int completed) {
        if (isLastEpoch(completed)) {
            return true;
        }
        return switch (kind) {
            case EPOCHS -> completed % period == 0;
            case EPOCH_LIST -> Arrays.binarySearch(epochs, completed) >= 0;
            default -> false;
        };
    }

    /** Whether {@code completed} (1-based) is the last epoch of a schedule that includes it and knows the run length. */
    public boolean isLastEpoch(int completed) {
        return last && totalEpochs != null && completed >= totalEpochs;
    }

    /** Whether {@code close()} should analyse the final parameters when epoch {@code lastDone} was not analysed. */
    public boolean dueAtClose() {
        return last;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Schedule s && s.kind == kind && s.period == period && Arrays.equals(s.epochs, epochs)
                && s.last == last && Objects.equals(s.totalEpochs, totalEpochs);
    }

    @Override
    public int hashCode() {
        return Objects.hash(kind, period, Arrays.hashCode(epochs), last, totalEpochs);
    }

    /** The form {@link #parse} reads (without the run length), e.g. {@code "epochs:2+last"}. */
    @Override
    public String toString() {
        String s = switch (kind) {
            case ITERATIONS -> "iterations:" + period;
            case EPOCHS -> "epochs:" + period;
            case EPOCH_LIST -> String.join(",", Arrays.stream(epochs).mapToObj(String::valueOf).toList());
            case CHECKPOINTS -> "checkpoints";
            case NEVER -> "never";
        };
        return last ? s + "+last" : s;
    }
}
