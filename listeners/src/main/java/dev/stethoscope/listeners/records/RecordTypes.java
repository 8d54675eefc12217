package dev.stethoscope.listeners.records;

import dev.stethoscope.listeners.spi.Monitors;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The registry of Stethoscope record types (type id to payload class), derived from the
 * {@link dev.stethoscope.listeners.spi.MonitorType}s on the classpath ({@link Monitors}): a
 * monitor adds its record types by declaring them, nothing is listed here. The UI plugin
 * subscribes to these type ids and reads them from StatsStorage.
 */
public final class RecordTypes {
    private static volatile Map<Class<?>, String> byClass;
    private static volatile Map<String, RecordType<?>> byId;

    private RecordTypes() {
    }

    private static Map<String, RecordType<?>> types() {
        Map<String, RecordType<?>> m = byId;
        if (m == null) {
            m = Monitors.recordTypes(); // the monitor list is loaded once, so this never changes
            byId = m;
        }
        return m;
    }

    /** Every known type id, in monitor order. */
    public static List<String> typeIds() {
        return List.copyOf(types().keySet());
    }

    /** Whether {@code typeId} is a Stethoscope record type. */
    public static boolean isKnown(String typeId) {
        return types().containsKey(typeId);
    }

    /**
     * A fresh, empty envelope for decoding a record of {@code typeId}.
     *
     * @throws IllegalArgumentException listing the known type ids if {@code typeId} is not one
     */
    public static StethoscopeRecord newRecord(String typeId) {
        payloadClass(typeId);
        return new StethoscopeRecord();
    }

    /**
     * The payload class of {@code typeId}.
     *
     * @throws IllegalArgumentException listing the known type ids if {@code typeId} is not one
     */
    public static Class<? extends Record> payloadClass(String typeId) {
        Class<? extends Record> c = payloadClassOrNull(typeId);
        if (c == null) {
            throw new IllegalArgumentException("Unknown record type '" + typeId + "'. Known: " + typeIds());
        }
        return c;
    }

    /** The payload class of {@code typeId}, or null if it is not a known type id. */
    public static Class<? extends Record> payloadClassOrNull(String typeId) {
        RecordType<?> t = typeId == null ? null : types().get(typeId);
        return t == null ? null : t.payload();
    }

    /**
     * The type id of a payload class.
     *
     * @throws IllegalArgumentException if no monitor type on the classpath declares it
     */
    public static String typeIdOf(Class<? extends Record> payload) {
        Map<Class<?>, String> m = byClass;
        if (m == null) {
            m = new HashMap<>();
            for (RecordType<?> t : types().values()) {
                m.putIfAbsent(t.payload(), t.typeId());
            }
            byClass = m;
        }
        String id = m.get(payload);
        if (id == null) {
            throw new IllegalArgumentException(payload.getName() + " is not the payload of a record type declared by a "
                    + "MonitorType on the classpath (META-INF/services/dev.stethoscope.listeners.spi.MonitorType). "
                    + "Known payloads: " + m.values());
        }
        return id;
    }
}
