package dev.stethoscope.listeners.spi;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.regex.Pattern;

/**
 * The monitor types on the classpath ({@link MonitorType}, loaded once with
 * {@link ServiceLoader}), in navigation order. A type whose id or record type ids clash with
 * one loaded before it fails loading with a message naming both classes.
 */
public final class Monitors {
    private static final Pattern ID = Pattern.compile("[a-z0-9][a-z0-9-]*");
    private static volatile List<MonitorType> all;

    private Monitors() {
    }

    /** Every monitor type on the classpath, by {@link MonitorType#order()} then id. */
    public static List<MonitorType> all() {
        List<MonitorType> a = all;
        if (a == null) {
            synchronized (Monitors.class) {
                if (all == null) {
                    all = load(ServiceLoader.load(MonitorType.class, Monitors.class.getClassLoader()));
                }
                a = all;
            }
        }
        return a;
    }

    /** Every record type of every monitor, by type id, in monitor order. */
    public static Map<String, RecordType<?>> recordTypes() {
        Map<String, RecordType<?>> m = new LinkedHashMap<>();
        for (MonitorType t : all()) {
            for (RecordType<?> r : t.recordTypes()) {
                m.put(r.typeId(), r);
            }
        }
        return m;
    }

    /** Checks and orders a set of monitor types (package-visible for tests). */
    static List<MonitorType> load(Iterable<MonitorType> types) {
        List<MonitorType> out = new ArrayList<>();
        Map<String, MonitorType> ids = new HashMap<>();
        Map<String, MonitorType> typeIds = new HashMap<>();
        for (MonitorType t : types) {
            String id = t.id();
            if (id == null || !ID.matcher(id).matches()) {
                throw new IllegalStateException("Monitor type " + t.getClass().getName() + " has id '" + id
                        + "'; ids are lower-case letters, digits and '-'");
            }
            MonitorType before = ids.putIfAbsent(id, t);
            if (before != null) {
                throw new IllegalStateException("Two monitor types have id '" + id + "': "
                        + before.getClass().getName() + " and " + t.getClass().getName());
            }
            List<RecordType<?>> rts = t.recordTypes();
            if (rts == null || rts.isEmpty()) {
                throw new IllegalStateException("Monitor type " + t.getClass().getName() + " declares no record type");
            }
            for (RecordType<?> r : rts) {
                MonitorType owner = typeIds.putIfAbsent(r.typeId(), t);
                if (owner != null) {
                    throw new IllegalStateException("Record type id '" + r.typeId() + "' is declared by both "
                            + owner.getClass().getName() + " and " + t.getClass().getName());
                }
            }
            out.add(t);
        }
        out.sort(Comparator.comparingInt(MonitorType::order).thenComparing(MonitorType::id));
        return List.copyOf(out);
    }
}
