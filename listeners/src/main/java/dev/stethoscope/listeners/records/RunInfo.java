package dev.stethoscope.listeners.records;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Static information about a monitored run (record type {@value #TYPE_ID}): the model's type, its
 * layers, the number of parameters and the monitor's settings.
 *
 * <p>DL4J's StatsStorage finds updates of a session and type through the static info stored for
 * each (session, type, worker): without it, {@code listSessionIDs()} and the all-workers queries
 * do not see the updates. So a listener publishes one RunInfo as static info for each record
 * type it publishes, before the first update of that type, stored under that record type's id
 * ({@link StethoscopeRecord#staticInfo}).
 *
 * @param monitor    the monitor's name
 * @param modelClass the model's simple class name
 * @param numParams  the model's parameter count
 * @param layerNames layer names
 * @param layerTypes layer configuration class names, one per layer
 * @param settings   the monitor's settings as text, in a fixed order
 */
public record RunInfo(String monitor, String modelClass, long numParams, List<String> layerNames,
                      List<String> layerTypes, Map<String, String> settings) {
    public static final String TYPE_ID = "Stethoscope.RunInfo";

    /** Copies the lists and the settings (order kept); a missing settings map becomes empty. */
    public RunInfo {
        layerNames = layerNames == null ? List.of() : List.copyOf(layerNames);
        layerTypes = layerTypes == null ? List.of() : List.copyOf(layerTypes);
        settings = settings == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(settings));
    }
}
