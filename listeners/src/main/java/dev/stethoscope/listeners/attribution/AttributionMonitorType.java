package dev.stethoscope.listeners.attribution;

import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "attribution": attribution heatmaps ({@link AttributionListener}). */
public final class AttributionMonitorType implements MonitorType {
    @Override
    public String id() {
        return "attribution";
    }

    @Override
    public String title() {
        return "Attributions";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(AttributionMaps.TYPE_ID, AttributionMaps.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-attribution.js";
    }

    @Override
    public int order() {
        return 60;
    }
}
