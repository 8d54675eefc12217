package dev.stethoscope.listeners.core;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.concurrent.Callable;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One daemon thread that runs a listener's analyses off the training thread.
 *
 * <p>A task computes in the background and returns an action (typically "publish these
 * records") that is queued and run later on the listener's thread by {@link #drain}: the
 * training thread at its next callback, or the caller of {@code flush()} / {@code close()}. Publishing, the
 * error-record machinery and any read of the training network therefore never happen on the
 * background thread (DL4J's {@code fit} holds the network's monitor, which would deadlock a
 * background reader). An exception in the background becomes an action that rethrows it, so
 * the listener's fault policy applies unchanged.
 *
 * <p>At most {@code maxPending} tasks are queued or running: a further {@link #submit} waits
 * (back-pressure on the training thread) instead of queuing without bound, so the memory held by
 * pending tasks (their parameter copies) stays bounded. With {@code async = false} tasks run on
 * the caller's thread.
 *
 * <p>Every wait is bounded by the worker's timeout: a {@link #submit} that finds no free slot
 * within it throws {@link BackgroundTimeoutException} (the analysis is skipped, training goes
 * on), {@link #awaitIdle} returns false and {@link #shutdown} gives up, each with a log line
 * naming the thread, so a hung analysis never hangs training.
 */
public final class BackgroundWorker {
    private static final Logger log = LoggerFactory.getLogger(BackgroundWorker.class);
    /** Per-task memory and time at DEBUG (logger {@code dev.stethoscope.memory}): for overhead work. */
    private static final Logger memLog = LoggerFactory.getLogger("dev.stethoscope.memory");
    private final boolean async;
    private final int maxPending;
    private final Semaphore slots;
    private final ExecutorService exec;
    private final boolean sharedExecutor;
    private final ConcurrentLinkedQueue<Callable<Void>> outbox = new ConcurrentLinkedQueue<>();
    private final String threadName;
    private final long timeoutNanos;
    private volatile Action beforeTask;

    /** A worker whose waits time out after 10 minutes. */
    public BackgroundWorker(String name, boolean async, int maxPending) {
        this(name, async, maxPending, DEFAULT_TIMEOUT);
    }

    /** The default bound of every wait: 10 minutes. */
    public static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(10);

    /**
     * @param name       suffix of the thread's name ({@code stethoscope-<name>})
     * @param async      run tasks on the background thread (else on the caller's)
     * @param maxPending tasks waiting or running at most
     * @param timeout    bound of every wait (submit, awaitIdle, shutdown)
     */
    public BackgroundWorker(String name, boolean async, int maxPending, Duration timeout) {
        this(name, async, maxPending, timeout, null);
    }

    /**
     * A worker whose tasks run on {@code shared}, a single-thread executor that other workers use
     * too (the one analysis thread of an {@link AnalysisContext}): each worker keeps its own bound
     * on pending tasks and its own queue of results, and tasks of all of them run one at a time in
     * submission order. {@link #shutdown} leaves a shared executor running (its owner stops it).
     *
     * @param shared the executor, or null for a thread of this worker's own (when {@code async})
     */
    public BackgroundWorker(String name, boolean async, int maxPending, Duration timeout, ExecutorService shared) {
        if (timeout == null || timeout.isNegative() || timeout.isZero()) {
            throw new IllegalArgumentException("timeout must be positive, got " + timeout);
        }
        this.threadName = "stethoscope-" + name;
        this.timeoutNanos = timeout.toNanos();
        this.async = async;
        this.maxPending = maxPending;
        this.slots = new Semaphore(maxPending);
        this.sharedExecutor = async && shared != null;
        this.exec = !async ? null : shared != null ? shared : Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, threadName);
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * Sets an action run at the start of every task, on the thread that runs it (a fault-injection
     * hook for tests: what it throws is handled as the task's failure); null removes it.
     */
    public void beforeTask(Action hook) {
        this.beforeTask = hook;
    }

    /** The bound of every wait. */
    public Duration timeout() {
        return Duration.ofNanos(timeoutNanos);
    }

    /** Whether tasks run on the background thread ({@code false}: on the caller's thread). */
    public boolean async() {
        return async;
    }

    /** An action to run on the listener's thread; may throw. */
    @FunctionalInterface
    public interface Action {
        /** Runs the action. */
        void run() throws Exception;
    }

    /**
     * Runs {@code compute} in the background (or now when not async) and queues the action it
     * returns; waits while {@code maxPending} tasks are pending.
     */
    public void submit(Callable<Action> compute) {
        Runnable body = () -> {
            // outside any workspace the training thread may have open: results must outlive this call
            // while the task runs, the tighter native-memory bound applies (NativeMemory.analysis())
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces();
                 AutoCloseable analysing = dev.stethoscope.probes.linalg.NativeMemory.analysis()) {
                Action hook = beforeTask;
                if (hook != null) {
                    hook.run();
                }
                MemoryUse before = memLog.isDebugEnabled() ? MemoryUse.now() : null;
                long cpu0 = CpuAccounting.start();
                Action a = compute.call();
                if (before != null) {
                    memLog.debug("{} task: {}", threadName, before.to(MemoryUse.now()));
                }
                dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown();
                CpuAccounting.add(Thread.currentThread().getName() + ": " + threadName + " task", cpu0);
                if (a != null) {
                    outbox.add(() -> {
                        a.run();
                        return null;
                    });
                }
            } catch (Throwable e) {
                // every failure, fatal ones included, is handed to the listener's thread and its fault policy
                outbox.add(() -> {
                    if (e instanceof Exception ex) {
                        throw ex;
                    }
                    if (e instanceof Error err) {
                        throw err;
                    }
                    throw new IllegalStateException(e);
                });
            }
        };
        if (!async || exec.isShutdown()) {
            body.run(); // after shutdown (a listener used again after close()): on the caller's thread
            return;
        }
        boolean acquired;
        try {
            acquired = slots.tryAcquire(timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new BackgroundTimeoutException("Interrupted while waiting for a free slot on " + threadName
                    + "; this analysis is skipped");
        }
        if (!acquired) {
            log.warn("{}: {} analyses still pending after {}; this analysis is skipped (a hung analysis? "
                    + "see that thread in a thread dump)", threadName, maxPending, timeout());
            throw new BackgroundTimeoutException(threadName + ": " + maxPending + " analyses still pending after "
                    + timeout() + "; this analysis is skipped, training goes on");
        }
        try {
            exec.execute(() -> {
                try {
                    body.run();
                } finally {
                    slots.release();
                }
            });
        } catch (RuntimeException e) {
            slots.release();
            throw e;
        }
    }

    /** Runs the queued actions, in order, through {@code runner} (which applies the fault policy). */
    public void drain(Consumer<Callable<Void>> runner) {
        Callable<Void> a;
        while ((a = outbox.poll()) != null) {
            runner.accept(a);
        }
    }

    /**
     * Waits until every submitted task has finished computing, at most the worker's timeout.
     *
     * @return true if idle, false if tasks were still running when the wait timed out (logged)
     */
    public boolean awaitIdle() {
        if (!async) {
            return true;
        }
        boolean idle;
        try {
            idle = slots.tryAcquire(maxPending, timeoutNanos, TimeUnit.NANOSECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
        if (!idle) {
            log.warn("{}: analyses still running after waiting {}; not waiting any longer", threadName, timeout());
            return false;
        }
        slots.release(maxPending);
        return true;
    }

    /** Stops the thread after the pending tasks (waits up to {@code seconds}). */
    public void shutdown(long seconds) {
        if (exec == null) {
            return;
        }
        if (sharedExecutor) {
            if (!awaitIdle()) {
                log.warn("{}: background analyses still running at shutdown; their results are not published",
                        threadName);
            }
            return; // the shared thread belongs to its AnalysisContext, which stops it
        }
        exec.shutdown();
        try {
            if (!exec.awaitTermination(seconds, TimeUnit.SECONDS)) {
                log.warn("{}: background analyses still running {} s after shutdown; left to finish on their "
                        + "daemon thread, their results are not published", threadName, seconds);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
