package dev.stethoscope.listeners.records;

import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads Stethoscope records from a {@link StatsStorage} one by one, so that a record that fails
 * to decode (a damaged or crafted file, see {@link StethoscopeRecord#decode}) is skipped and
 * logged instead of failing the whole read. Every reader of stored records (the UI's routes, the
 * suspects export) goes through here.
 */
public final class RecordReader {
    private static final Logger log = LoggerFactory.getLogger(RecordReader.class);
    private static final Set<String> reported = ConcurrentHashMap.newKeySet();

    private RecordReader() {
    }

    /** Update records of {@code typeId} in a session with a timestamp after {@code after}, every worker, by time. */
    public static List<StethoscopeRecord> updates(StatsStorage s, String sessionId, String typeId, long after) {
        List<StethoscopeRecord> out = new ArrayList<>();
        try {
            // the fast path: one scan; it fails as a whole if one record cannot be decoded
            addRecords(s.getAllUpdatesAfter(sessionId, typeId, after), out);
            out.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
            return out;
        } catch (RuntimeException | StackOverflowError e) {
            out.clear(); // record by record below (workers as DL4J lists them: those with static info)
        }
        List<String> workers;
        try {
            workers = s.listWorkerIDsForSessionAndType(sessionId, typeId);
        } catch (RuntimeException e) {
            skipped(sessionId, typeId, "its workers", e);
            return out;
        }
        for (String w : workers) {
            long[] times;
            try {
                times = s.getAllUpdateTimes(sessionId, typeId, w);
            } catch (RuntimeException e) {
                skipped(sessionId, typeId, "worker " + w, e);
                continue;
            }
            if (times != null) {
                oneByOne(s, sessionId, typeId, w, java.util.Arrays.stream(times).filter(t -> t > after).toArray(), out);
            }
        }
        out.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
        return out;
    }

    /**
     * The update records of one worker at the given timestamps; a record that fails to decode is
     * skipped and logged (the others are still returned).
     */
    public static List<StethoscopeRecord> updatesAt(StatsStorage s, String sessionId, String typeId, String workerId,
                                                    long[] times) {
        List<StethoscopeRecord> out = new ArrayList<>(times.length);
        try {
            addRecords(s.getUpdates(sessionId, typeId, workerId, times), out);
            return out;
        } catch (RuntimeException | StackOverflowError e) {
            out.clear(); // record by record
        }
        oneByOne(s, sessionId, typeId, workerId, times, out);
        return out;
    }

    /** Reads one worker's records at {@code times} one at a time into {@code out}, skipping any that fail to decode. */
    private static void oneByOne(StatsStorage s, String sessionId, String typeId, String workerId, long[] times,
                                 List<StethoscopeRecord> out) {
        for (long t : times) {
            try {
                Persistable p = s.getUpdate(sessionId, typeId, workerId, t);
                if (p instanceof StethoscopeRecord r) {
                    out.add(r);
                }
            } catch (RuntimeException | StackOverflowError e) {
                skipped(sessionId, typeId, "the record of worker " + workerId + " at " + t, e);
            }
        }
    }

    /** Static-info records of {@code typeId} in a session (one per worker), skipping any that fail to decode. */
    public static List<StethoscopeRecord> staticInfos(StatsStorage s, String sessionId, String typeId) {
        List<StethoscopeRecord> out = new ArrayList<>();
        try {
            addRecords(s.getAllStaticInfos(sessionId, typeId), out);
            return out;
        } catch (RuntimeException | StackOverflowError e) {
            out.clear();
        }
        List<String> workers;
        try {
            workers = s.listWorkerIDsForSessionAndType(sessionId, typeId);
        } catch (RuntimeException e) {
            skipped(sessionId, typeId, "its workers", e);
            return out;
        }
        for (String w : workers) {
            try {
                Persistable p = s.getStaticInfo(sessionId, typeId, w);
                if (p instanceof StethoscopeRecord r) {
                    out.add(r);
                }
            } catch (RuntimeException | StackOverflowError e) {
                skipped(sessionId, typeId, "the static info of worker " + w, e);
            }
        }
        return out;
    }

    /** Adds the Stethoscope records among {@code ps} to {@code out}. */
    private static void addRecords(Iterable<? extends Persistable> ps, List<StethoscopeRecord> out) {
        for (Persistable p : ps) {
            if (p instanceof StethoscopeRecord r) {
                out.add(r);
            }
        }
    }

    private static void skipped(String session, String type, String what, Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        String key = session + "/" + type + "/" + what;
        if (reported.add(key)) {
            log.warn("Skipped {} of type {} in session {}: it cannot be decoded ({}). The stats file is damaged or "
                    + "was written by a newer Stethoscope; the other records are still shown.", what, type, session,
                    root.toString());
        }
    }
}
