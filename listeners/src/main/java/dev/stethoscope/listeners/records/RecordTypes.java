package dev.stethoscope.listeners.records;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The registry of Stethoscope record types: type id to record class. The UI
 * plugin subscribes to these type ids and reads them from StatsStorage.
 * Add one line here for every new record class.
 */
public final class RecordTypes {
    private static final Map<String, Supplier<? extends StethoscopeRecord>> TYPES = new LinkedHashMap<>();

    static {
        register(MonitorErrorRecord.TYPE_ID, MonitorErrorRecord::new);
        register(HealthRecord.TYPE_ID, HealthRecord::new);
        register(AttributionRecord.TYPE_ID, AttributionRecord::new);
        register(MemorizationRecord.TYPE_ID, MemorizationRecord::new);
        register(LossSensitivityRecord.TYPE_ID, LossSensitivityRecord::new);
        register(SuspectsRecord.TYPE_ID, SuspectsRecord::new);
        register(SuspectTableRecord.TYPE_ID, SuspectTableRecord::new);
        register(SuspectMarkRecord.TYPE_ID, SuspectMarkRecord::new);
        register(ProbeAccuracyRecord.TYPE_ID, ProbeAccuracyRecord::new);
        register(SimilarityRecord.TYPE_ID, SimilarityRecord::new);
    }

    private RecordTypes() {
    }

    private static void register(String typeId, Supplier<? extends StethoscopeRecord> factory) {
        if (TYPES.put(typeId, factory) != null) {
            throw new IllegalStateException("Duplicate record type id " + typeId);
        }
    }

    /** Every known type id, in registration order. */
    public static List<String> typeIds() {
        return List.copyOf(TYPES.keySet());
    }

    /** Whether {@code typeId} is a Stethoscope record type. */
    public static boolean isKnown(String typeId) {
        return TYPES.containsKey(typeId);
    }

    /** A fresh, empty record of the given type, for decoding. */
    public static StethoscopeRecord newRecord(String typeId) {
        Supplier<? extends StethoscopeRecord> s = TYPES.get(typeId);
        if (s == null) {
            throw new IllegalArgumentException("Unknown record type '" + typeId + "'. Known: " + TYPES.keySet());
        }
        return s.get();
    }
}
