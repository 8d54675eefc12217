package dev.stethoscope.listeners.core;

import dev.stethoscope.listeners.TestNets;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The activation cache is not held past an analysis point: dropped by {@link AnalysisContext#endOfPoint()}
 * (queued behind the point's tasks) and by a task's {@link AnalysisContext#load}; what is computed after a
 * release equals what was cached (a real network and real ND4J passes).
 */
class AnalysisContextReleaseTest {
    private static final List<String> LAYERS = List.of("dense1", "dense2");

    @Test
    void endOfPointDropsTheCacheAfterThePointsTasksAndTheRecomputedActivationsAreEqual() throws Exception {
        MultiLayerNetwork net = TestNets.mlp(7, 8, 16, 12, 3);
        DataSet data = TestNets.blobs(3, 64, 8, 3);
        try (AnalysisContext ctx = new AnalysisContext(net, true, Duration.ofSeconds(60))) {
            AnalysisContext.ProbeSet probe = AnalysisContext.ProbeSet.of(data.getFeatures());
            AnalysisContext.Snapshot s = ctx.snapshot();
            Map<String, INDArray> first = ctx.executor().submit(() -> ctx.activations(s, probe, LAYERS, 20)).get(30, TimeUnit.SECONDS);
            // a second request of the same point is served from the cache
            ctx.executor().submit(() -> ctx.activations(s, probe, LAYERS, 20)).get(30, TimeUnit.SECONDS);
            assertThat(ctx.executor().submit(ctx::forwardPasses).get()).isEqualTo(1);
            assertThat(ctx.executor().submit(ctx::cacheEmpty).get()).isFalse();

            ctx.endOfPoint();
            ctx.endOfPoint(); // nothing new since: no second release queued
            assertThat(ctx.executor().submit(ctx::cacheEmpty).get()).isTrue();
            assertThat(ctx.executor().submit(ctx::releases).get()).isEqualTo(1);

            Future<Map<String, INDArray>> again = ctx.executor().submit(() -> ctx.activations(s, probe, LAYERS, 20));
            Map<String, INDArray> second = again.get(30, TimeUnit.SECONDS);
            assertThat(ctx.executor().submit(ctx::forwardPasses).get()).isEqualTo(2);
            for (String l : LAYERS) {
                assertThat(second.get(l)).as(l).isEqualTo(first.get(l));
            }
        }
    }

    @Test
    void aTaskLoadingTheCopyForItsOwnPassesDropsTheCache() throws Exception {
        MultiLayerNetwork net = TestNets.mlp(7, 8, 16, 12, 3);
        DataSet data = TestNets.blobs(3, 64, 8, 3);
        try (AnalysisContext ctx = new AnalysisContext(net, false, Duration.ofSeconds(60))) {
            AnalysisContext.ProbeSet probe = AnalysisContext.ProbeSet.of(data.getFeatures());
            AnalysisContext.Snapshot s = ctx.snapshot();
            Map<String, INDArray> first = ctx.activations(s, probe, LAYERS, 20);
            assertThat(ctx.cacheEmpty()).isFalse();
            INDArray out = ctx.load(s).model() instanceof MultiLayerNetwork m ? m.output(data.getFeatures()) : null;
            assertThat(out).isEqualTo(net.output(data.getFeatures()));
            assertThat(ctx.cacheEmpty()).isTrue();
            assertThat(ctx.releases()).isEqualTo(1);
            Map<String, INDArray> second = ctx.activations(s, probe, LAYERS, 20);
            assertThat(ctx.forwardPasses()).isEqualTo(2);
            for (String l : LAYERS) {
                assertThat(second.get(l)).as(l).isEqualTo(first.get(l));
            }
        }
    }
}
