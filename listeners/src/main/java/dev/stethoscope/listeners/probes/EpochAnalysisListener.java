package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.core.BackgroundWorker;
import dev.stethoscope.listeners.core.StethoscopeListener;
import org.deeplearning4j.nn.api.Model;

/**
 * Shared scheduling of the listeners whose analyses run at epoch ends on a
 * background thread ({@link LinearProbeListener}, {@link SvccaListener}).
 *
 * <p>At each epoch end it decides whether the epoch is due (every {@code every}
 * epochs, and the last one when {@code totalEpochs} is known) and calls
 * {@link #analyse}. Results computed in the background are published from the
 * training thread at its next callback (DL4J's {@code fit} holds the network's
 * monitor, so publishing from another thread would block), or by
 * {@link #flush()} / {@link #finish()} after {@code fit} returns.
 */
public abstract class EpochAnalysisListener extends StethoscopeListener {
    private final int every;
    private final Integer totalEpochs;
    private final String analysisPhase;
    private final BackgroundWorker worker;

    private int epochAtStart = -1;
    private int lastCompleted = -1;

    /**
     * @param every         analyse every this many epochs (>= 1)
     * @param totalEpochs   the number of epochs of training, or null when unknown
     * @param analysisPhase the phase name under which background failures are recorded
     * @param async         run the analyses on a background thread
     */
    protected EpochAnalysisListener(StethoscopeListener.Builder<?, ?> b, int every, Integer totalEpochs,
                                    String analysisPhase, boolean async) {
        super(b);
        this.every = every;
        this.totalEpochs = totalEpochs;
        this.analysisPhase = analysisPhase;
        this.worker = new BackgroundWorker(analysisPhase, async, 2);
    }

    /** Runs (or submits) the analysis of the parameters after epoch {@code completed} (1-based). */
    protected abstract void analyse(int completed, boolean isFinal) throws Exception;

    /** Hook at each epoch start, inside {@link #guard}; does nothing by default. */
    protected void epochStarted(Model model) throws Exception {
    }

    /**
     * Ends monitoring: analyses the final parameters if that was not done yet and
     * publishes everything pending. Call it after {@code fit} returns. Idempotent.
     */
    public abstract void finish();

    protected final int every() {
        return every;
    }

    protected final Integer totalEpochs() {
        return totalEpochs;
    }

    protected final BackgroundWorker worker() {
        return worker;
    }

    /** The last completed epoch (1-based), or -1 before the first epoch end. */
    protected final int lastCompleted() {
        return lastCompleted;
    }

    /** Publishes finished background results on this (the training) thread. */
    protected final void drain() {
        worker.drain(a -> guard(analysisPhase, a::call));
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        drain();
    }

    @Override
    public void onEpochStart(Model model) {
        drain();
        guard("onEpochStart", () -> {
            epochAtStart = currentEpoch();
            epochStarted(model);
        });
    }

    @Override
    public void onEpochEnd(Model model) {
        drain();
        guard("onEpochEnd", () -> {
            int completed = (epochAtStart >= 0 ? epochAtStart : currentEpoch()) + 1;
            lastCompleted = completed;
            boolean isLast = totalEpochs != null && completed >= totalEpochs;
            if (isLast || completed % every == 0) {
                analyse(completed, isLast);
            }
        });
    }

    /**
     * Waits for the analyses already started and publishes their records (from the calling
     * thread); training may continue afterwards. Call it between {@code fit} calls, not from
     * another thread while {@code fit} runs.
     */
    public void flush() {
        worker.awaitIdle();
        drain();
    }

    /**
     * Settings shared by the builders of epoch-analysis listeners: period, run length, forward-pass
     * batch size for activations, and whether the analyses run on a background thread.
     */
    public abstract static class Builder<B extends Builder<B, L>, L extends EpochAnalysisListener>
            extends StethoscopeListener.Builder<B, L> {
        protected int every = 1;
        protected Integer totalEpochs;
        protected int batchSize = 256;
        protected boolean async = true;

        protected Builder(org.deeplearning4j.nn.api.Model model, org.deeplearning4j.core.storage.StatsStorageRouter router) {
            super(model, router);
        }

        /** Analyse every {@code k} epochs (default 1). */
        public B every(int k) {
            if (k < 1) {
                throw new IllegalArgumentException("every must be >= 1, got " + k);
            }
            this.every = k;
            return self();
        }

        /**
         * Number of epochs of the run, so the last epoch is analysed and marked final (optional; without it,
         * call {@code finish()} after {@code fit}).
         */
        public B totalEpochs(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("totalEpochs must be >= 1, got " + n);
            }
            this.totalEpochs = n;
            return self();
        }

        /** Examples per forward pass when computing activations (default 256). */
        public B batchSize(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("batchSize must be >= 1, got " + n);
            }
            this.batchSize = n;
            return self();
        }

        /** Analyse on a background thread (default true) or on the training thread. */
        public B async(boolean async) {
            this.async = async;
            return self();
        }
    }

    /** {@link #finish()} and stop the background thread. */
    public void close() {
        finish();
        worker.shutdown(60);
    }
}
