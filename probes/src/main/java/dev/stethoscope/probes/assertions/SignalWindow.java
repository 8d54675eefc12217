package dev.stethoscope.probes.assertions;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A bounded window over the most recent training signals: the last {@code capacity} steps and
 * every epoch seen (epochs are few). It also keeps the loss at the start of the run (the mean of
 * the first {@value #START_STEPS} finite step losses), which the progress detector compares
 * against. Not thread-safe: one training thread adds, the detectors read between additions.
 */
public final class SignalWindow implements java.io.Serializable {
    private static final long serialVersionUID = 1L;
    /** How many of the first finite step losses define the run's starting loss. */
    public static final int START_STEPS = 10;

    private final int capacity;
    private final ArrayDeque<StepSignals> steps;
    /** The last {@code capacity} steps that carry sampled signals ({@link StepSignals#sampled()}). */
    private final ArrayDeque<StepSignals> sampled;
    private final ArrayList<EpochSignals> epochs = new ArrayList<>();
    private long stepsSeen;
    private double startLossSum;
    private int startLossCount;
    private int plannedEpochs;
    private int samplePeriod = 1;

    /** @param capacity the number of most recent steps kept (at least 2) */
    public SignalWindow(int capacity) {
        if (capacity < 2) {
            throw new IllegalArgumentException("A window keeps at least 2 steps, got " + capacity);
        }
        this.capacity = capacity;
        this.steps = new ArrayDeque<>(capacity);
        this.sampled = new ArrayDeque<>(capacity);
    }

    /** Adds a step, dropping the oldest when the window is full. */
    public void add(StepSignals s) {
        if (steps.size() == capacity) {
            steps.removeFirst();
        }
        steps.addLast(s);
        if (s.sampled()) {
            if (sampled.size() == capacity) {
                sampled.removeFirst();
            }
            sampled.addLast(s);
        }
        stepsSeen++;
        if (startLossCount < START_STEPS && Double.isFinite(s.loss())) {
            startLossSum += s.loss();
            startLossCount++;
        }
    }

    /** Adds a finished epoch. */
    public void addEpoch(EpochSignals e) {
        epochs.add(e);
    }

    /** @param n the number of epochs the training plans (0 = unknown) */
    public void plannedEpochs(int n) {
        this.plannedEpochs = n;
    }

    /**
     * Iterations between two sampled steps (1: every step is sampled). The sampled-signal
     * detectors keep their sustain windows as spans of iterations: a window of {@code n} steps needs
     * {@code ceil(n / period)} sampled steps, but at least {@value WindowMath#MIN_SAMPLES} (or
     * {@code n} when smaller).
     */
    public void samplePeriod(int period) {
        if (period < 1) {
            throw new IllegalArgumentException("A sample period is at least 1 iteration, got " + period);
        }
        this.samplePeriod = period;
    }

    /** @return the iterations between two sampled steps (see {@link #samplePeriod(int)}) */
    public int samplePeriod() {
        return samplePeriod;
    }

    /** @return the number of epochs the training plans (0 = unknown) */
    public int plannedEpochs() {
        return plannedEpochs;
    }

    /** @return the kept steps, oldest first (a copy) */
    public List<StepSignals> steps() {
        return new ArrayList<>(steps);
    }

    /** @return the last {@code n} kept steps (fewer if the window holds fewer), oldest first */
    public List<StepSignals> lastSteps(int n) {
        return last(steps, n);
    }

    /** The last {@code n} (or fewer) of {@code q}, oldest first, copying only those. */
    private static List<StepSignals> last(ArrayDeque<StepSignals> q, int n) {
        int k = Math.max(0, Math.min(n, q.size()));
        StepSignals[] out = new StepSignals[k];
        java.util.Iterator<StepSignals> it = q.descendingIterator();
        for (int i = k - 1; i >= 0; i--) {
            out[i] = it.next();
        }
        return java.util.Arrays.asList(out);
    }

    /** @return the latest step, or null before any */
    /**
     * The kept steps that carry sampled signals (layer norms, activation fractions, predictions),
     * oldest first, at most {@code capacity}: with a listener sampling every k-th step these span
     * k times more training than {@link #steps()}; when every step is sampled they are the same.
     */
    public List<StepSignals> sampledSteps() {
        return new ArrayList<>(sampled);
    }

    /** The last {@code n} (or fewer) of {@link #sampledSteps()}. */
    public List<StepSignals> lastSampled(int n) {
        return last(sampled, n);
    }

    /** Number of kept sampled steps. */
    public int sampledSize() {
        return sampled.size();
    }

    /** The most recent step with sampled signals, or null. */
    public StepSignals latestSampled() {
        return sampled.peekLast();
    }

    /** The most recent step (sampled or not), or null. */
    public StepSignals latest() {
        return steps.peekLast();
    }

    /** @return the epochs seen, oldest first (unmodifiable) */
    public List<EpochSignals> epochs() {
        return Collections.unmodifiableList(epochs);
    }

    /** @return the number of steps added since the window was created (not only the kept ones) */
    public long stepsSeen() {
        return stepsSeen;
    }

    /** @return the number of steps kept */
    public int size() {
        return steps.size();
    }

    /** @return the window's capacity in steps */
    public int capacity() {
        return capacity;
    }

    /** @return mean of the run's first finite step losses; NaN before any */
    public double startLoss() {
        return startLossCount == 0 ? Double.NaN : startLossSum / startLossCount;
    }
}
