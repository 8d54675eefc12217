package dev.stethoscope.plugin;

import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Read (and, for user decisions, write) access to the Stethoscope records in
 * the StatsStorage instances attached to the UI.
 */
public final class StorageAccess {
    private final List<StatsStorage> storages = new CopyOnWriteArrayList<>();

    void attach(StatsStorage s) {
        if (!storages.contains(s)) {
            storages.add(s);
        }
    }

    void detach(StatsStorage s) {
        storages.remove(s);
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
        List<StethoscopeRecord> out = new ArrayList<>();
        for (StatsStorage s : storages) {
            if (s.isClosed() || !s.sessionExists(sessionId)) {
                continue;
            }
            out.addAll(dev.stethoscope.listeners.records.RecordReader.updates(s, sessionId, typeId, after));
        }
        out.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
        return out;
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
