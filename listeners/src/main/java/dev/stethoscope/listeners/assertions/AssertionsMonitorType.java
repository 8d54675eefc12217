package dev.stethoscope.listeners.assertions;

import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "assertions": model assertions firing during training ({@link AssertionListener}). */
public final class AssertionsMonitorType implements MonitorType {
    @Override
    public String id() {
        return "assertions";
    }

    @Override
    public String title() {
        return "Assertions";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(AssertionFinding.TYPE_ID, AssertionFinding.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-assertions.js";
    }

    @Override
    public int order() {
        return 65;
    }
}
