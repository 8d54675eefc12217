package dev.stethoscope.listeners.probes;

import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/** The built-in monitor type "similarity": layer similarity ({@link SvccaListener}). */
public final class SimilarityMonitorType implements MonitorType {
    @Override
    public String id() {
        return "similarity";
    }

    @Override
    public String title() {
        return "Layer similarity (SVCCA)";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(SimilarityTable.TYPE_ID, SimilarityTable.class));
    }

    @Override
    public String panelScript() {
        return "stethoscope/static/panel-similarity.js";
    }

    @Override
    public int order() {
        return 30;
    }
}
