package dev.stethoscope.listeners.memorization;

import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "memorization": memorisation ({@link MemorizationListener}). */
public final class MemorizationMonitorType implements MonitorType {
    @Override
    public String id() {
        return "memorization";
    }

    @Override
    public String title() {
        return "Memorisation";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(Memorization.TYPE_ID, Memorization.class),
                RecordType.of(LossSensitivitySample.TYPE_ID, LossSensitivitySample.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-memorization.js";
    }

    @Override
    public int order() {
        return 40;
    }
}
