package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.core.BackgroundListener;
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
public abstract class EpochAnalysisListener extends BackgroundListener {
    private final int every;
    private final Integer totalEpochs;

    private int epochAtStart = -1;
    private int lastCompleted = -1;

    /**
     * @param every         analyse every this many epochs (>= 1)
     * @param totalEpochs   the number of epochs of training, or null when unknown
     * @param analysisPhase the phase name under which background failures are recorded
     */
    protected EpochAnalysisListener(Builder<?, ?> b, int every, Integer totalEpochs, String analysisPhase) {
        super(b, analysisPhase, analysisPhase);
        this.every = every;
        this.totalEpochs = totalEpochs;
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

    /** The last completed epoch (1-based), or -1 before the first epoch end. */
    protected final int lastCompleted() {
        return lastCompleted;
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
     * Settings shared by the builders of epoch-analysis listeners: period, run length and
     * forward-pass batch size for activations (with the background-thread settings of
     * {@link BackgroundListener.Builder}; at most 2 analyses pending by default).
     */
    public abstract static class Builder<B extends Builder<B, L>, L extends EpochAnalysisListener>
            extends BackgroundListener.Builder<B, L> {
        protected int every = 1;
        protected Integer totalEpochs;
        protected int batchSize = 256;

        protected Builder(org.deeplearning4j.nn.api.Model model, org.deeplearning4j.core.storage.StatsStorageRouter router) {
            super(model, router, 2);
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
    }

    /** {@link #finish()} and stop the background thread. */
    @Override
    public void close() {
        finish();
        shutdownWorker();
    }
}
