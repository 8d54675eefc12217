package dev.stethoscope.listeners.core;

import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;

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
 * training thread at its next callback, or the caller of {@code finish()}. Publishing, the
 * error-record machinery and any read of the training network therefore never happen on the
 * background thread (DL4J's {@code fit} holds the network's monitor, which would deadlock a
 * background reader). An exception in the background becomes an action that rethrows it, so
 * the listener's fault policy applies unchanged.
 *
 * <p>At most {@code maxPending} tasks are queued or running: a further {@link #submit} waits
 * (back-pressure on the training thread) instead of queuing without bound, so the memory held by
 * pending tasks (their parameter copies) stays bounded. With {@code async = false} tasks run on
 * the caller's thread.
 */
public final class BackgroundWorker {
    private final boolean async;
    private final int maxPending;
    private final Semaphore slots;
    private final ExecutorService exec;
    private final ConcurrentLinkedQueue<Callable<Void>> outbox = new ConcurrentLinkedQueue<>();

    public BackgroundWorker(String name, boolean async, int maxPending) {
        this.async = async;
        this.maxPending = maxPending;
        this.slots = new Semaphore(maxPending);
        this.exec = async ? Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "stethoscope-" + name);
            t.setDaemon(true);
            return t;
        }) : null;
    }

    /** Whether tasks run on the background thread ({@code false}: on the caller's thread). */
    public boolean async() {
        return async;
    }

    /** An action to run on the listener's thread; may throw. */
    @FunctionalInterface
    public interface Action {
        void run() throws Exception;
    }

    /**
     * Runs {@code compute} in the background (or now when not async) and queues the action it
     * returns; waits while {@code maxPending} tasks are pending.
     */
    public void submit(Callable<Action> compute) {
        Runnable body = () -> {
            // outside any workspace the training thread may have open: results must outlive this call
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                Action a = compute.call();
                if (a != null) {
                    outbox.add(() -> {
                        a.run();
                        return null;
                    });
                }
            } catch (Exception | Error e) {
                outbox.add(() -> {
                    if (e instanceof Exception ex) {
                        throw ex;
                    }
                    throw (Error) e;
                });
            }
        };
        if (!async || exec.isShutdown()) {
            body.run(); // after shutdown (a listener used again after close()): on the caller's thread
            return;
        }
        slots.acquireUninterruptibly();
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

    /** Waits until every submitted task has finished computing. */
    public void awaitIdle() {
        if (!async) {
            return;
        }
        slots.acquireUninterruptibly(maxPending);
        slots.release(maxPending);
    }

    /** Stops the thread after the pending tasks (waits up to {@code seconds}). */
    public void shutdown(long seconds) {
        if (exec == null) {
            return;
        }
        exec.shutdown();
        try {
            exec.awaitTermination(seconds, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
