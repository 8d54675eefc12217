package dev.stethoscope.plugin.example;

import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/**
 * The example monitor's type: its id, its record, its panel. Listed in
 * {@code META-INF/services/dev.stethoscope.listeners.spi.MonitorType} of the test resources, as a
 * third-party jar would list it; nothing else registers it.
 */
public final class WeightNormMonitor implements MonitorType {
    @Override
    public String id() {
        return "weight-norms";
    }

    @Override
    public String title() {
        return "Weight norms (example)";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of("Example.WeightNorms", WeightNormRecord.class));
    }

    @Override
    public String panelScript() {
        return "example/panel-weight-norms.js";
    }
}
