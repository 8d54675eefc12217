package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * DeepLIFT keeps no per-call state in the attributor: threads attributing concurrently, each on its own network
 * (two graphs and an MLP, different weights and baselines), and two threads sharing one graph attributor with
 * different targets, get exactly what they get one after the other: maps, scores and baseline scores, over many
 * repetitions. (With the baseline scores kept in a field, the shared attributor handed one thread the other's.)
 */
class DeepLiftConcurrencyTest {
    private static final int ROUNDS = 25;

    private record Task(DeepLift attributor, INDArray x, int[] targets) {
        Attribution run() {
            return attributor.attribute(x, targets);
        }
    }

    private static List<Task> tasks() {
        ComputationGraph g1 = GraphNets.gated(Activation.TANH, 4);
        ComputationGraph g2 = GraphNets.gated(Activation.TANH, 7);
        MultiLayerNetwork mlp = Nets.trainedMlp(4, 3, true, org.nd4j.linalg.api.buffer.DataType.DOUBLE, 5);
        INDArray x = GraphNets.uniform(8, 4, -1, 1, 31);
        int[] t = {0, 1, 2, 0, 1, 2, 0, 1};
        DeepLift shared = new DeepLift(new LogitNetwork(NetworkCopy.of(g1)), 128, GraphNets.uniform(1, 4, -0.2, 0.2, 32));
        int[] other = {2, 2, 1, 1, 0, 0, 2, 1};
        return List.of(
                new Task(shared, x, t),
                new Task(shared, x, other), // one graph attributor on two threads (calls serialised on its copy)
                new Task(new DeepLift(new LogitNetwork(NetworkCopy.of(g2)), 128, GraphNets.uniform(1, 4, 0.1, 0.3, 33)), x, t),
                new Task(new DeepLift(new LogitNetwork(NetworkCopy.of(mlp)), 128, GraphNets.uniform(1, 4, -0.3, 0.1, 34)), x, t));
    }

    @Test
    void concurrentAttributionsOnSeparateNetworksEqualSequentialOnes() throws Exception {
        List<Task> tasks = tasks();
        List<Attribution> sequential = new ArrayList<>();
        for (Task task : tasks) {
            sequential.add(task.run());
        }
        // the baselines differ, so a baseline score leaking from one call into another is visible
        assertThat(sequential.get(0).extras().get("baselineScore"))
                .isNotEqualTo(sequential.get(1).extras().get("baselineScore"));
        ExecutorService pool = Executors.newFixedThreadPool(tasks.size());
        try {
            CountDownLatch start = new CountDownLatch(1);
            List<Future<List<Attribution>>> futures = new ArrayList<>();
            for (Task task : tasks) {
                futures.add(pool.submit(() -> {
                    start.await();
                    List<Attribution> out = new ArrayList<>();
                    for (int r = 0; r < ROUNDS; r++) {
                        out.add(task.run());
                    }
                    return out;
                }));
            }
            start.countDown();
            for (int k = 0; k < tasks.size(); k++) {
                Attribution expected = sequential.get(k);
                for (Attribution a : futures.get(k).get(5, TimeUnit.MINUTES)) {
                    assertThat(a.maps()).as("maps of network %d", k).isEqualTo(expected.maps());
                    assertThat(a.targetScores()).containsExactly(expected.targetScores());
                    assertThat(a.completenessGap()).containsExactly(expected.completenessGap());
                    assertThat(a.extras().get("baselineScore")).as("baseline scores of network %d", k)
                            .isEqualTo(expected.extras().get("baselineScore"));
                }
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
