package dev.stethoscope.listeners.core;

import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;

/**
 * A {@link StethoscopeListener} whose analyses run on one background thread
 * ({@link BackgroundWorker}): the training thread hands over copies of what an analysis needs
 * and goes on; the records are published on the training thread at its next callback
 * ({@link #drain()}), or by {@link #flush()} / {@link #close()} after {@code fit}.
 *
 * <p>With {@link Builder#async async(false)} every analysis runs inside the callback instead.
 * At most {@link Builder#maxPending maxPending} analyses wait or run; a further hand-over
 * waits on the training thread (back-pressure), so nothing is dropped and the memory held by
 * pending copies stays bounded. A failure in the background is reported through the
 * listener's fault policy ({@link #guard}) when its result would have been published.
 */
public abstract class BackgroundListener extends StethoscopeListener {
    private final BackgroundWorker worker;
    private final String backgroundPhase;

    /**
     * @param b               the builder (async, maxPending and the common settings)
     * @param threadName      suffix of the background thread's name
     * @param backgroundPhase the phase name under which background failures are recorded
     */
    protected BackgroundListener(Builder<?, ?> b, String threadName, String backgroundPhase) {
        super(b);
        this.backgroundPhase = backgroundPhase;
        this.worker = new BackgroundWorker(threadName, b.async, b.maxPending);
    }

    /** The background worker (tasks run in submission order). */
    protected final BackgroundWorker worker() {
        return worker;
    }

    /** Publishes finished background results on the calling (normally the training) thread. */
    protected final void drain() {
        worker.drain(a -> guard(backgroundPhase, a::call));
    }

    /**
     * Waits for the analyses already handed over and publishes their records from the calling
     * thread. Call it after {@code fit} returns (or between {@code fit} calls), not from another
     * thread while {@code fit} runs. Without it, results finished after the last callback of
     * {@code fit} are published at the next callback.
     */
    public void flush() {
        worker.awaitIdle();
        drain();
    }

    /** {@link #flush()}, then stops the background thread. */
    public void close() {
        flush();
        shutdownWorker();
    }

    /** Stops the background thread after its pending tasks (waits up to a minute). */
    protected final void shutdownWorker() {
        worker.shutdown(60);
    }

    /** Builder settings of the background thread, shared by every background listener. */
    public abstract static class Builder<B extends Builder<B, L>, L extends BackgroundListener>
            extends StethoscopeListener.Builder<B, L> {
        protected boolean async = true;
        protected int maxPending;

        /**
         * @param defaultMaxPending the listener's default bound on pending analyses
         */
        protected Builder(Model model, StatsStorageRouter router, int defaultMaxPending) {
            super(model, router);
            this.maxPending = defaultMaxPending;
        }

        /** Analyse on a background thread (default true) or inside the training callbacks. */
        public B async(boolean async) {
            this.async = async;
            return self();
        }

        /**
         * At most this many analyses (each holding its copies) waiting or running; a further
         * hand-over waits on the training thread until one finishes.
         */
        public B maxPending(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("maxPending must be >= 1, got " + n);
            }
            this.maxPending = n;
            return self();
        }
    }
}
