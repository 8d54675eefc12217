package dev.stethoscope.listeners.core;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Strictly increasing millisecond timestamps. DL4J's StatsStorage keys updates
 * by (session, type, worker, timestamp): two records with equal keys would
 * overwrite each other, so every record gets a timestamp no other record in this
 * JVM has (the wall clock, moved forward by 1 ms where needed).
 */
public final class Timestamps {
    private static final AtomicLong LAST = new AtomicLong();

    private Timestamps() {
    }

    /** The next unique timestamp. */
    public static long next() {
        long now = System.currentTimeMillis();
        return LAST.updateAndGet(prev -> Math.max(prev + 1, now));
    }
}
