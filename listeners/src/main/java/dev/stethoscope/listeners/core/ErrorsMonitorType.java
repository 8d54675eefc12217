package dev.stethoscope.listeners.core;

import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.RunInfo;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "errors": the errors every monitor publishes, and the run information every monitor stores. */
public final class ErrorsMonitorType implements MonitorType {
    @Override
    public String id() {
        return "errors";
    }

    @Override
    public String title() {
        return "Monitor errors";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(MonitorError.TYPE_ID, MonitorError.class),
                RecordType.of(RunInfo.TYPE_ID, RunInfo.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-errors.js";
    }

    @Override
    public int order() {
        return 70;
    }
}
