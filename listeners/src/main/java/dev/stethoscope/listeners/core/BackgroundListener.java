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
 *
 * <p>Every wait is bounded by {@link Builder#backgroundTimeout} (default 10 minutes): a
 * hand-over that finds the queue still full after it is skipped and recorded as a
 * {@link BackgroundTimeoutException}, and {@link #flush()} stops waiting after it (recorded too),
 * so a hung analysis never hangs training.
 *
 * <p><b>Nothing lost on failure.</b> Call {@link #close()} in a {@code finally} block around
 * {@code fit}, before closing the storage: the analyses already handed over then still publish
 * their records when {@code fit} throws. <pre>{@code
 * try {
 *     net.fit(train, epochs);
 * } finally {
 *     listener.close();   // before storage.close()
 *     storage.close();
 * }
 * }</pre>
 *
 * <p>The background thread is not serialised: a deserialised listener starts its own on first
 * use (see {@link StethoscopeListener}, "Serializable"). Serialising waits for the analyses
 * already handed over, so their state is complete.
 */
public abstract class BackgroundListener extends StethoscopeListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;
    /** Made on first use ({@link #worker()}), so also after deserialisation. */
    private transient volatile BackgroundWorker worker;
    private final String threadName;
    private final String backgroundPhase;
    private final boolean async;
    private final int maxPending;
    private final java.time.Duration backgroundTimeout;
    /** Closing concerns this instance's thread: a deserialised copy starts open. */
    private transient volatile boolean closed;

    /**
     * @param b               the builder (async, maxPending and the common settings)
     * @param threadName      suffix of the background thread's name
     * @param backgroundPhase the phase name under which background failures are recorded
     */
    protected BackgroundListener(Builder<?, ?> b, String threadName, String backgroundPhase) {
        super(b);
        this.threadName = threadName;
        this.backgroundPhase = backgroundPhase;
        this.async = b.async;
        this.maxPending = b.maxPending;
        this.backgroundTimeout = b.backgroundTimeout;
    }

    /** The background worker (tasks run in submission order); started on first use. */
    protected final BackgroundWorker worker() {
        BackgroundWorker w = worker;
        if (w == null) {
            synchronized (this) {
                w = worker;
                if (w == null) {
                    AnalysisContext ctx = context();
                    w = ctx != null ? ctx.newWorker(threadName, maxPending)
                            : new BackgroundWorker(threadName, async, maxPending, backgroundTimeout);
                    w.beforeTask(() -> {
                        FaultHook h = faultHook();
                        if (h != null) {
                            h.beforeStep(monitorName(), backgroundPhase, true);
                        }
                    });
                    worker = w;
                }
            }
        }
        return w;
    }

    /** Publishes finished background results on the calling (normally the training) thread. */
    protected final void drain() {
        BackgroundWorker w = worker;
        if (w != null) {
            w.drain(a -> guard(backgroundPhase, a::call));
        }
    }

    /**
     * Waits for the analyses already handed over and publishes their records from the calling
     * thread. Call it after {@code fit} returns (or between {@code fit} calls), not from another
     * thread while {@code fit} runs. Without it, results finished after the last callback of
     * {@code fit} are published at the next callback.
     */
    public void flush() {
        BackgroundWorker worker = this.worker;
        if (worker == null) {
            return; // nothing was ever handed over
        }
        if (!worker.awaitIdle()) {
            guard("flush", () -> {
                throw new BackgroundTimeoutException("Background analyses of monitor '" + monitorName()
                        + "' still running after " + worker.timeout() + "; their records are published only if "
                        + "they finish before the next flush or close");
            });
        }
        drain();
    }

    /**
     * Ends monitoring: {@link #flush()}, then stops the background thread. Idempotent (a second
     * call does nothing). Subclasses that run a final analysis override it.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        flush();
        shutdownWorker();
    }

    /** Stops the background thread after its pending tasks (waits up to a minute). */
    protected final void shutdownWorker() {
        BackgroundWorker worker = this.worker;
        if (worker != null) {
            worker.shutdown(Math.max(1, Math.min(60, worker.timeout().toSeconds())));
        }
    }

    @java.io.Serial
    private void writeObject(java.io.ObjectOutputStream out) throws java.io.IOException {
        BackgroundWorker w = worker;
        if (w != null) {
            w.awaitIdle(); // the analysis state belongs to the background thread until its tasks are done
        }
        out.defaultWriteObject();
    }

    /** Builder settings of the background thread, shared by every background listener. */
    public abstract static class Builder<B extends Builder<B, L>, L extends BackgroundListener>
            extends StethoscopeListener.Builder<B, L> {
        protected boolean async = true;
        protected int maxPending;
        protected java.time.Duration backgroundTimeout = BackgroundWorker.DEFAULT_TIMEOUT;

        /**
         * @param defaultMaxPending the listener's default bound on pending analyses
         */
        protected Builder(Model model, StatsStorageRouter router, int defaultMaxPending) {
            super(model, router);
            this.maxPending = defaultMaxPending;
        }

        /**
         * Bound of every wait on the background thread (a hand-over when the queue is full,
         * {@code flush}, {@code close}); default 10 minutes. When it runs out the analysis is
         * skipped or left behind, with a log line and an error record, and training goes on.
         */
        public B backgroundTimeout(java.time.Duration timeout) {
            if (timeout == null || timeout.isNegative() || timeout.isZero()) {
                throw new IllegalArgumentException("backgroundTimeout must be positive, got " + timeout);
            }
            this.backgroundTimeout = timeout;
            return self();
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
