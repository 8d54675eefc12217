package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "probes": linear probes ({@link LinearProbeListener}). */
public final class ProbesMonitorType implements MonitorType {
    @Override
    public String id() {
        return "probes";
    }

    @Override
    public String title() {
        return "Linear probes";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(ProbeAccuracy.TYPE_ID, ProbeAccuracy.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-probes.js";
    }

    @Override
    public int order() {
        return 20;
    }
}
