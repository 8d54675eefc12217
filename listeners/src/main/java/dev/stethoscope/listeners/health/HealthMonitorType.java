package dev.stethoscope.listeners.health;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "health": layer health ({@link HealthListener}). */
public final class HealthMonitorType implements MonitorType {
    @Override
    public String id() {
        return "health";
    }

    @Override
    public String title() {
        return "Layer health";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(Health.TYPE_ID, Health.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-health.js";
    }

    @Override
    public int order() {
        return 10;
    }
}
