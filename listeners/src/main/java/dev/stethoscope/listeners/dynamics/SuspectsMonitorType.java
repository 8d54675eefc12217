package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "suspects": suspected mislabeled examples ({@link TrainingDynamicsListener}) and the user's marks. */
public final class SuspectsMonitorType implements MonitorType {
    @Override
    public String id() {
        return "suspects";
    }

    @Override
    public String title() {
        return "Suspects";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(Suspects.TYPE_ID, Suspects.class),
                RecordType.of(SuspectTable.TYPE_ID, SuspectTable.class),
                RecordType.of(SuspectMark.TYPE_ID, SuspectMark.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-suspects.js";
    }

    @Override
    public int order() {
        return 50;
    }
}
