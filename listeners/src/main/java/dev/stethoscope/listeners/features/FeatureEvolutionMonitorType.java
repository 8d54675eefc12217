package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "features": per-epoch feature evolution ({@link FeatureEvolutionListener}). */
public final class FeatureEvolutionMonitorType implements MonitorType {
    @Override
    public String id() {
        return "features";
    }

    @Override
    public String title() {
        return "Feature evolution";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(FeatureSnapshot.TYPE_ID, FeatureSnapshot.class),
                RecordType.of(FeatureProjection.TYPE_ID, FeatureProjection.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-features.js";
    }

    @Override
    public int order() {
        return 15;
    }
}
