package dev.stethoscope.spark;

import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.RecordType;

import java.util.List;

/**
 * The monitor type of the Spark module's worker-side records ({@link ExampleLogits}); no panel of
 * its own: the driver merges the records into the suspects monitor, whose panel shows them.
 */
public final class SparkMonitorType implements MonitorType {
    @Override
    public String id() {
        return "spark-dynamics";
    }

    @Override
    public String title() {
        return "Spark worker batches";
    }

    @Override
    public List<RecordType<?>> recordTypes() {
        return List.of(RecordType.of(ExampleLogits.TYPE_ID, ExampleLogits.class));
    }
}
