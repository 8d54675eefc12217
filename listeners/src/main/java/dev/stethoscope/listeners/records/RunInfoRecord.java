package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Static information about a monitored run: the model's type, its layers, the
 * number of parameters and the monitor's settings (as text key/value pairs).
 *
 * <p>DL4J's StatsStorage finds updates of a session and type through the
 * static info stored for each (session, type, worker): without it,
 * {@code listSessionIDs()} and the all-workers queries do not see the updates.
 * So a listener publishes one RunInfoRecord with {@code putStaticInfo} for each
 * record type it publishes, before the first update of that type; its type id
 * is that record type's id (it is data, not fixed by the class).
 */
public class RunInfoRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    private String typeId;
    private String monitor;
    private String modelClass;
    private long numParams;
    private List<String> layerNames;
    private List<String> layerTypes;
    private List<String> settingKeys;
    private List<String> settingValues;

    /** For decoding. */
    public RunInfoRecord() {
    }

    /**
     * @param typeId the type id of the updates this record announces
     */
    public RunInfoRecord(String typeId, String monitor, String modelClass, long numParams, List<String> layerNames,
                         List<String> layerTypes, Map<String, String> settings) {
        this.typeId = typeId;
        this.monitor = monitor;
        this.modelClass = modelClass;
        this.numParams = numParams;
        this.layerNames = List.copyOf(layerNames);
        this.layerTypes = List.copyOf(layerTypes);
        this.settingKeys = List.copyOf(settings.keySet());
        this.settingValues = settings.values().stream().map(String::valueOf).toList();
    }

    @Override
    public String getTypeID() {
        return typeId;
    }

    @Override
    protected void acceptType(String typeId) {
        this.typeId = typeId;
    }

    @Override
    protected int bodyVersion() {
        return 1;
    }

    @Override
    protected void writeBody(DataOutputStream out) throws IOException {
        RecordCodec.writeString(out, monitor);
        RecordCodec.writeString(out, modelClass);
        out.writeLong(numParams);
        RecordCodec.writeStrings(out, layerNames);
        RecordCodec.writeStrings(out, layerTypes);
        RecordCodec.writeStrings(out, settingKeys);
        RecordCodec.writeStrings(out, settingValues);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        monitor = RecordCodec.readString(in);
        modelClass = RecordCodec.readString(in);
        numParams = in.readLong();
        layerNames = RecordCodec.readStrings(in);
        layerTypes = RecordCodec.readStrings(in);
        settingKeys = RecordCodec.readStrings(in);
        settingValues = RecordCodec.readStrings(in);
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("monitor", monitor);
        m.put("modelClass", modelClass);
        m.put("numParams", numParams);
        m.put("layerNames", layerNames);
        m.put("layerTypes", layerTypes);
        Map<String, String> s = new LinkedHashMap<>();
        for (int i = 0; i < settingKeys.size(); i++) {
            s.put(settingKeys.get(i), settingValues.get(i));
        }
        m.put("settings", s);
        return m;
    }

    public String getMonitor() {
        return monitor;
    }

    public List<String> getLayerNames() {
        return layerNames;
    }

    public Map<String, String> getSettings() {
        Map<String, String> s = new LinkedHashMap<>();
        for (int i = 0; i < settingKeys.size(); i++) {
            s.put(settingKeys.get(i), settingValues.get(i));
        }
        return s;
    }
}
