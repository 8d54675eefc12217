package dev.stethoscope.plugin;

import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.core.storage.StatsStorageEvent;
import org.deeplearning4j.core.storage.StatsStorageListener;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Read (and, for user decisions, write) access to the Stethoscope records in
 * the StatsStorage instances attached to the UI.
 *
 * <p>Keeps, from the storages' own events, the time of the newest update of
 * every (session, type) (as DL4J's TrainModule does for its pages), so a poll
 * for records after that time is answered without touching the storage, and
 * the session list needs no decoding at all. Reads are bounded: {@link #page}
 * decodes only the records it returns.
 *
 * <p>It also keeps, per (session, type), the keys of the records in the order they
 * arrived (those already stored when a storage is attached first, by time), so a
 * page that follows a live run can ask for what arrived since its last read
 * ({@link #pageSince}). Reading by timestamp alone would miss a record stored after
 * a newer one was read: records of other workers (DL4J's Spark training returns a
 * worker's records in one batch per averaging round), of a remote router whose
 * clock lags, or of two threads that stamped and stored in the opposite order.
 */
public final class StorageAccess {
    private final List<StatsStorage> storages = new CopyOnWriteArrayList<>();
    private final Map<StatsStorage, StatsStorageListener> listeners = new ConcurrentHashMap<>();
    /** Newest update time per session and type, over every attached storage. */
    private final Map<String, Map<String, Long>> lastUpdate = new ConcurrentHashMap<>();
    /** Keys of the records per session and type, in arrival order. */
    private final Map<String, Map<String, Arrivals>> arrivals = new ConcurrentHashMap<>();

    /** Where one update record is stored. */
    private record Key(StatsStorage storage, String worker, long time) {
    }

    /** Keys of one (session, type) in arrival order, each once. */
    private static final class Arrivals {
        private final List<Key> order = new ArrayList<>();
        private final Set<Key> seen = new java.util.HashSet<>();

        synchronized void add(Key k) {
            if (seen.add(k)) {
                order.add(k);
            }
        }

        synchronized int size() {
            return order.size();
        }

        synchronized List<Key> range(int from, int to) {
            return new ArrayList<>(order.subList(from, to));
        }
    }

    void attach(StatsStorage s) {
        if (storages.contains(s)) {
            return;
        }
        StatsStorageListener l = this::onEvent;
        listeners.put(s, l);
        s.registerStatsStorageListener(l); // before the scan, so no update falls between the two
        storages.add(s);
        index(s);
    }

    void detach(StatsStorage s) {
        storages.remove(s);
        StatsStorageListener l = listeners.remove(s);
        if (l != null) {
            s.deregisterStatsStorageListener(l);
        }
        lastUpdate.clear();
        arrivals.clear(); // cursors handed out before start over (see pageSince)
        for (StatsStorage other : storages) {
            index(other);
        }
    }

    private void onEvent(StatsStorageEvent e) {
        if (e.getEventType() == StatsStorageListener.EventType.PostUpdate && e.getSessionID() != null
                && e.getTypeID() != null) {
            noteUpdate(e.getSessionID(), e.getTypeID(), e.getTimestamp());
            if (e.getWorkerID() != null && e.getStatsStorage() != null) {
                arrivalsOf(e.getSessionID(), e.getTypeID()).add(new Key(e.getStatsStorage(), e.getWorkerID(),
                        e.getTimestamp()));
            }
        }
    }

    private Arrivals arrivalsOf(String session, String type) {
        return arrivals.computeIfAbsent(session, k -> new ConcurrentHashMap<>()).computeIfAbsent(type,
                k -> new Arrivals());
    }

    private void noteUpdate(String session, String type, long time) {
        lastUpdate.computeIfAbsent(session, k -> new ConcurrentHashMap<>()).merge(type, time, Math::max);
    }

    /** Reads the newest update time of every (session, type) of a storage from its keys (no record is decoded). */
    private void index(StatsStorage s) {
        if (s.isClosed()) {
            return;
        }
        for (String session : s.listSessionIDs()) {
            for (String type : s.listTypeIDsForSession(session)) {
                List<Key> stored = new ArrayList<>();
                List<String> workers = s.listWorkerIDsForSessionAndType(session, type);
                for (String worker : workers) {
                    long[] times = s.getAllUpdateTimes(session, type, worker);
                    if (times != null && times.length > 0) {
                        noteUpdate(session, type, Arrays.stream(times).max().getAsLong());
                        for (long t : times) {
                            stored.add(new Key(s, worker, t));
                        }
                    }
                }
                if (workers.isEmpty() && RecordTypes.isKnown(type)) {
                    // no static info lists the workers: read the records once to learn their keys
                    for (StethoscopeRecord r : dev.stethoscope.listeners.records.RecordReader.updates(s, session,
                            type, -1)) {
                        noteUpdate(session, type, r.getTimeStamp());
                        stored.add(new Key(s, r.getWorkerID(), r.getTimeStamp()));
                    }
                }
                stored.sort(Comparator.comparingLong(Key::time));
                Arrivals a = arrivalsOf(session, type);
                for (Key k : stored) {
                    a.add(k);
                }
            }
        }
    }

    /** The attached storages. */
    public List<StatsStorage> storages() {
        return List.copyOf(storages);
    }

    /** Sessions that hold at least one Stethoscope record type, with their types. */
    public Map<String, Set<String>> sessions() {
        Map<String, Set<String>> out = new LinkedHashMap<>();
        for (StatsStorage s : storages) {
            if (s.isClosed()) {
                continue;
            }
            for (String session : s.listSessionIDs()) {
                for (String type : s.listTypeIDsForSession(session)) {
                    if (RecordTypes.isKnown(type)) {
                        out.computeIfAbsent(session, k -> new LinkedHashSet<>()).add(type);
                    }
                }
            }
        }
        return out;
    }

    /**
     * The time of the newest update of {@code typeId} in a session (over every
     * type when {@code typeId} is null), or -1 if none, from the index kept from
     * storage events; touches no storage.
     */
    public long lastUpdate(String sessionId, String typeId) {
        Map<String, Long> m = lastUpdate.get(sessionId);
        if (m == null) {
            return -1;
        }
        if (typeId != null) {
            return m.getOrDefault(typeId, -1L);
        }
        long max = -1;
        for (long v : m.values()) {
            max = Math.max(max, v);
        }
        return max;
    }

    /** The storage holding {@code sessionId}, if any. */
    public Optional<StatsStorage> storageOf(String sessionId) {
        for (StatsStorage s : storages) {
            if (!s.isClosed() && s.sessionExists(sessionId)) {
                return Optional.of(s);
            }
        }
        return Optional.empty();
    }

    /**
     * All update records of {@code typeId} in a session after {@code after} (exclusive), every
     * worker, by time; a record that cannot be decoded is skipped and logged ({@link
     * dev.stethoscope.listeners.records.RecordReader}).
     */
    public List<StethoscopeRecord> updates(String sessionId, String typeId, long after) {
        return page(sessionId, typeId, after, Integer.MAX_VALUE).records();
    }

    /**
     * At most about {@code limit} update records of {@code typeId} in a session
     * after {@code after} (exclusive), the oldest first, over every worker.
     * Records sharing the last returned timestamp are all included, so the next
     * page can start after it. Only the returned records are decoded; when the
     * index says nothing is newer than {@code after}, no storage is read.
     *
     * @param limit at least 1
     */
    public Page page(String sessionId, String typeId, long after, int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be at least 1, got " + limit);
        }
        long newest = lastUpdate(sessionId, typeId);
        if (newest >= 0 && newest <= after) {
            return new Page(List.of(), false);
        }
        List<Key> keys = new ArrayList<>();
        List<StethoscopeRecord> unkeyed = new ArrayList<>();
        for (StatsStorage s : storages) {
            if (s.isClosed() || !s.sessionExists(sessionId)) {
                continue;
            }
            List<String> workers = s.listWorkerIDsForSessionAndType(sessionId, typeId);
            if (workers.isEmpty()) {
                // Workers are listed from static infos; a writer that put none is read the slow way.
                unkeyed.addAll(dev.stethoscope.listeners.records.RecordReader.updates(s, sessionId, typeId, after));
                continue;
            }
            for (String w : workers) {
                long[] times = s.getAllUpdateTimes(sessionId, typeId, w);
                if (times == null) {
                    continue;
                }
                for (long t : times) {
                    if (t > after) {
                        keys.add(new Key(s, w, t));
                    }
                }
            }
        }
        for (StethoscopeRecord r : unkeyed) {
            keys.add(new Key(null, null, r.getTimeStamp()));
        }
        keys.sort(Comparator.comparingLong(Key::time));
        int n = Math.min(limit, keys.size());
        while (n > 0 && n < keys.size() && keys.get(n).time() == keys.get(n - 1).time()) {
            n++;
        }
        boolean truncated = n < keys.size();
        long cutoff = n == 0 ? Long.MIN_VALUE : keys.get(n - 1).time();
        Map<StatsStorage, Map<String, List<Long>>> wanted = new LinkedHashMap<>();
        for (Key k : keys.subList(0, n)) {
            if (k.storage() != null) {
                wanted.computeIfAbsent(k.storage(), x -> new LinkedHashMap<>())
                        .computeIfAbsent(k.worker(), x -> new ArrayList<>()).add(k.time());
            }
        }
        List<StethoscopeRecord> out = new ArrayList<>(n);
        for (Map.Entry<StatsStorage, Map<String, List<Long>>> e : wanted.entrySet()) {
            for (Map.Entry<String, List<Long>> w : e.getValue().entrySet()) {
                long[] times = w.getValue().stream().mapToLong(Long::longValue).toArray();
                out.addAll(dev.stethoscope.listeners.records.RecordReader.updatesAt(e.getKey(), sessionId, typeId,
                        w.getKey(), times));
            }
        }
        for (StethoscopeRecord r : unkeyed) {
            if (r.getTimeStamp() <= cutoff) {
                out.add(r);
            }
        }
        out.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
        return new Page(out, truncated);
    }

    /**
     * At most {@code limit} update records of {@code typeId} in a session that arrived
     * after the first {@code cursor} ones, in arrival order, with the cursor to ask with
     * next. Unlike {@link #page}, a record stored late with an older timestamp is not
     * skipped. Cursors count from the attachment of the storages: after a storage is
     * detached they start over (a reader that gets back a cursor smaller than it sent
     * should read again from 0). Records that fail to decode are skipped and logged.
     *
     * @param cursor at least 0; how many records the reader has been handed so far
     * @param limit  at least 1
     */
    public CursorPage pageSince(String sessionId, String typeId, int cursor, int limit) {
        if (limit < 1 || cursor < 0) {
            throw new IllegalArgumentException("need limit >= 1 and cursor >= 0, got " + limit + ", " + cursor);
        }
        Map<String, Arrivals> bySession = arrivals.get(sessionId);
        Arrivals a = bySession == null ? null : bySession.get(typeId);
        int size = a == null ? 0 : a.size();
        if (cursor > size) {
            return new CursorPage(List.of(), 0, false); // cursors started over: tell the reader
        }
        int to = Math.min(size, cursor + limit);
        List<Key> keys = a == null ? List.of() : a.range(cursor, to);
        Map<StatsStorage, Map<String, List<Long>>> wanted = new LinkedHashMap<>();
        for (Key k : keys) {
            if (!k.storage().isClosed()) {
                wanted.computeIfAbsent(k.storage(), x -> new LinkedHashMap<>())
                        .computeIfAbsent(k.worker(), x -> new ArrayList<>()).add(k.time());
            }
        }
        Map<Key, StethoscopeRecord> read = new java.util.HashMap<>();
        for (Map.Entry<StatsStorage, Map<String, List<Long>>> e : wanted.entrySet()) {
            for (Map.Entry<String, List<Long>> w : e.getValue().entrySet()) {
                long[] times = w.getValue().stream().mapToLong(Long::longValue).toArray();
                for (StethoscopeRecord r : dev.stethoscope.listeners.records.RecordReader.updatesAt(e.getKey(),
                        sessionId, typeId, w.getKey(), times)) {
                    read.put(new Key(e.getKey(), w.getKey(), r.getTimeStamp()), r);
                }
            }
        }
        List<StethoscopeRecord> out = new ArrayList<>(keys.size());
        for (Key k : keys) {
            StethoscopeRecord r = read.get(k);
            if (r != null) {
                out.add(r);
            }
        }
        return new CursorPage(out, to, to < size);
    }

    /**
     * One page of records in arrival order.
     *
     * @param records   the records
     * @param next      the cursor to ask with next
     * @param truncated whether more records arrived than this page holds
     */
    public record CursorPage(List<StethoscopeRecord> records, int next, boolean truncated) {
    }

    /**
     * One page of records.
     *
     * @param records   the records, oldest first
     * @param truncated whether newer records were left for the next page (ask again after the last timestamp)
     */
    public record Page(List<StethoscopeRecord> records, boolean truncated) {
    }

    /** Static info records of {@code typeId} in a session (one per worker). */
    public List<StethoscopeRecord> staticInfos(String sessionId, String typeId) {
        List<StethoscopeRecord> out = new ArrayList<>();
        for (StatsStorage s : storages) {
            if (s.isClosed() || !s.sessionExists(sessionId)) {
                continue;
            }
            out.addAll(dev.stethoscope.listeners.records.RecordReader.staticInfos(s, sessionId, typeId));
        }
        return out;
    }
}
