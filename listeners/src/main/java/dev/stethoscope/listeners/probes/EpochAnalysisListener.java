package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.core.Schedule;
import org.deeplearning4j.nn.api.Model;

/**
 * Shared scheduling of the listeners whose analyses run at epoch ends on a
 * background thread ({@link LinearProbeListener}, {@link SvccaListener}).
 *
 * <p>"When" is a {@link Schedule}: {@link Schedule#epochs epochs(k)}, an epoch list
 * ({@link Schedule#atEpochs atEpochs}) or {@link Schedule#never()}, each optionally with
 * {@link Schedule#andLast()}; default {@code Schedule.epochs(1).andLast()} (every epoch, and the
 * final parameters marked final). Other kinds are refused by {@code build()}. At each epoch end
 * it asks the schedule whether the epoch is due and calls {@link #analyse}; with
 * {@code andLast()} the last epoch is analysed as final at its end when the schedule knows the
 * run length ({@link Schedule#totalEpochs(int)}), else by {@link #close()} after {@code fit}.
 * Results computed in the background are published from the training thread at its next
 * callback (DL4J's {@code fit} holds the network's monitor, so publishing from another thread
 * would block), or by {@link #flush()} / {@link #close()} after {@code fit} returns.
 */
public abstract class EpochAnalysisListener extends BackgroundListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** The schedule kinds these listeners accept. */
    static final Schedule.Kind[] ACCEPTED = {Schedule.Kind.EPOCHS, Schedule.Kind.EPOCH_LIST, Schedule.Kind.NEVER};
    /** The default schedule: every epoch, and the final parameters. */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.epochs(1).andLast();

    private final Schedule schedule;

    private int epochAtStart = -1;
    private int lastCompleted = -1;
    private transient boolean closed;

    /**
     * @param b             the builder ({@code build()} has checked its schedule)
     * @param analysisPhase the phase name under which background failures are recorded
     */
    protected EpochAnalysisListener(Builder<?, ?> b, String analysisPhase) {
        super(b, analysisPhase, analysisPhase);
        this.schedule = b.resolvedSchedule();
    }

    /** Runs (or submits) the analysis of the parameters after epoch {@code completed} (1-based). */
    protected abstract void analyse(int completed, boolean isFinal) throws Exception;

    /** Hook at each epoch start, inside {@link #guard}; does nothing by default. */
    protected void epochStarted(Model model) throws Exception {
    }

    /**
     * The final analysis run by {@link #close()} when the schedule includes the last epoch and it
     * was not yet analysed as final (inside {@link #guard}).
     */
    protected abstract void finalAnalysis() throws Exception;

    /** When this listener analyses. */
    public final Schedule schedule() {
        return schedule;
    }

    /** The last completed epoch (1-based), or -1 before the first epoch end. */
    protected final int lastCompleted() {
        return lastCompleted;
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model);
        drain();
    }

    @Override
    public void onEpochStart(Model model) {
        bind(model);
        drain();
        guard("onEpochStart", () -> {
            epochAtStart = currentEpoch();
            epochStarted(model);
        });
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        drain();
        guard("onEpochEnd", () -> {
            int completed = (epochAtStart >= 0 ? epochAtStart : currentEpoch()) + 1;
            lastCompleted = completed;
            if (schedule.dueAtEpochEnd(completed)) {
                analyse(completed, schedule.isLastEpoch(completed));
            }
        });
    }

    /**
     * Settings shared by the builders of epoch-analysis listeners: the schedule (see the class
     * comment) and the forward-pass batch size for activations (with the background-thread
     * settings of {@link BackgroundListener.Builder}; at most 2 analyses pending by default).
     */
    public abstract static class Builder<B extends Builder<B, L>, L extends EpochAnalysisListener>
            extends BackgroundListener.Builder<B, L> {
        protected int batchSize = 256;

        /** For the subclasses' builders: the model the monitor watches and where its records go. */
        protected Builder(org.deeplearning4j.nn.api.Model model, org.deeplearning4j.core.storage.StatsStorageRouter router) {
            super(model, router, 2);
        }

        /** Examples per forward pass when computing activations (default 256). */
        public B batchSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + n);
            }
            this.batchSize = n;
            return self();
        }

        /**
         * The schedule set, or {@link #DEFAULT_SCHEDULE}; refuses kinds other than epochs, epoch
         * lists and never (call it in {@code build()}, before making the listener).
         */
        protected final Schedule resolvedSchedule() {
            return scheduleOr(DEFAULT_SCHEDULE, ACCEPTED);
        }
    }

    /**
     * Ends monitoring: when the schedule includes the last epoch ({@link Schedule#andLast()}) and
     * it was not analysed as final yet, analyses the final parameters; then publishes everything
     * pending and stops the background thread. Call it after {@code fit} returns (in a
     * {@code finally} block, before closing the storage). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (schedule.dueAtClose()) {
            guard("close", this::finalAnalysis);
        }
        flush();
        shutdownWorker();
    }
}
