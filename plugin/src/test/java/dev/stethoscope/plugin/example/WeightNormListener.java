package dev.stethoscope.plugin.example;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The example monitor's listener (docs/ADDING_A_MONITOR.md): decides when to run the math
 * ({@link WeightNorms}) and publishes one {@link WeightNormRecord}. Everything else (session ids,
 * the fault policy, run info, the storage) comes from {@link StethoscopeListener}.
 */
public final class WeightNormListener extends StethoscopeListener {
    private static final long serialVersionUID = 1L;
    private final Schedule schedule;

    private WeightNormListener(Builder b) {
        super(b);
        this.schedule = b.schedule();
    }

    /** A builder for {@code net}, publishing to {@code router}. */
    public static Builder builder(MultiLayerNetwork net, StatsStorageRouter router) {
        return new Builder(net, router);
    }

    @Override
    public String monitorName() {
        return "weight-norms";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> s = new LinkedHashMap<>();
        s.put("schedule", schedule.toString());
        return s;
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        bind(model); // model(), the run info and the epoch/iteration counts follow the network being trained
        if (schedule.dueAtIteration(iteration)) {
            // the model passed to the callback, only read; a failure is logged, published and training goes on
            guard("iterationDone", () -> {
                MultiLayerNetwork net = (MultiLayerNetwork) model;
                publish(new WeightNormRecord(WeightNorms.layers(net), WeightNorms.of(net)), epoch, iteration);
            });
        }
    }

    /** Builds a {@link WeightNormListener}; default schedule every 10 iterations. */
    public static final class Builder extends StethoscopeListener.Builder<Builder, WeightNormListener> {
        private Builder(MultiLayerNetwork net, StatsStorageRouter router) {
            super(net, router);
        }

        Schedule schedule() {
            return scheduleOr(Schedule.iterations(10), Schedule.Kind.ITERATIONS);
        }

        @Override
        public WeightNormListener build() {
            schedule(); // refuses an epoch or checkpoint schedule here, before training
            return new WeightNormListener(this);
        }
    }
}
