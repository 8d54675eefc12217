package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static dev.stethoscope.probes.attribution.AttributorFixtures.assertSame;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;

/**
 * The contract every attribution method in {@link Attributors#NAMES} keeps, checked table-driven over
 * every registered name on a small MLP, a small CNN and a small residual ComputationGraph (as Captum's
 * attribution test tables do). The
 * names come from the registry, so a method added there is covered without editing this test; a
 * method that refuses a network by design is listed in {@link #REFUSALS} with its documented error.
 *
 * <ul>
 *   <li>the maps have the input's shape, the target scores are the target logits, and every value is finite;</li>
 *   <li>the target matters: explaining another class changes every example's map;</li>
 *   <li>batching does not change results: each example's map equals the map computed for it alone, and an
 *       internal batch size of 1 gives the same maps as one internal batch.</li>
 * </ul>
 */
class AttributorContractTest {
    private static final int N = 4;
    private static final int CLASSES = 3;
    private static final int MLP_DIM = 6;
    private static final int H = 8;
    private static final int W = 8;
    /** Relative tolerance for "the same result" (double-precision networks). */

    /** Network kinds of the table. */
    enum Net { MLP, CNN, RESNET }

    /** Method and network combinations refused by design, with the start of the documented error message. */
    private static final Map<String, String> REFUSALS = Map.of(
            "gradcam@MLP", "Grad-CAM needs a convolution layer; this network has none");

    /**
     * Methods whose per-example result depends on the other examples of the batch, by design, with the reason;
     * for these only the first example is compared with its one-by-one result (the internal batch size must
     * still not matter).
     */
    private static final Map<String, String> BATCH_DEPENDENT = Map.of(
            "smoothgrad", "the noise of all examples is drawn from one seeded stream in example order, so an"
                    + " example's noise depends on its position in the batch");

    private static MultiLayerNetwork mlp;
    private static MultiLayerNetwork cnn;
    private static org.deeplearning4j.nn.graph.ComputationGraph resnet;

    private static synchronized org.deeplearning4j.nn.api.Model network(Net kind) {
        if (kind == Net.RESNET) {
            if (resnet == null) {
                resnet = GraphNets.residual(H, W, CLASSES, true);
                org.nd4j.linalg.dataset.DataSet ds = trainingImages();
                for (int i = 0; i < 10; i++) {
                    resnet.fit(ds);
                }
            }
            return resnet;
        }
        if (kind == Net.MLP) {
            if (mlp == null) {
                mlp = Nets.trainedMlp(MLP_DIM, CLASSES, true, DataType.DOUBLE, 20);
            }
            return mlp;
        }
        if (cnn == null) {
            cnn = Nets.cnn(H, W, CLASSES, DataType.DOUBLE, PoolingType.MAX);
            // a few steps of training so that the classes' logits are not near-symmetric functions of the input
            org.nd4j.linalg.dataset.DataSet ds = trainingImages();
            for (int i = 0; i < 10; i++) {
                cnn.fit(ds);
            }
        }
        return cnn;
    }

    private static org.nd4j.linalg.dataset.DataSet trainingImages() {
        Random r = new Random(11);
        double[][] x = new double[60][H * W];
        double[][] y = new double[60][CLASSES];
        for (int i = 0; i < x.length; i++) {
            int c = i % CLASSES;
            for (int j = 0; j < H * W; j++) {
                x[i][j] = r.nextDouble() * 0.5 + (j % CLASSES == c ? 0.5 : 0.0);
            }
            y[i][c] = 1;
        }
        return new org.nd4j.linalg.dataset.DataSet(Nd4j.createFromArray(x), Nd4j.createFromArray(y));
    }

    /** A batch of N inputs in the network's input shape ([N, 6] for the MLP, flat images [N, 64] otherwise). */
    private static INDArray inputs(Net kind) {
        if (kind == Net.MLP) {
            return Nets.blobs(N, MLP_DIM, CLASSES, 21).getFeatures().castTo(DataType.DOUBLE);
        }
        Random r = new Random(5);
        double[][] x = new double[N][H * W];
        for (double[] row : x) {
            for (int j = 0; j < row.length; j++) {
                row[j] = r.nextDouble();
            }
        }
        return Nd4j.createFromArray(x);
    }

    private static final int[] TARGETS = {0, 1, 2, 0};
    private static final int[] OTHER_TARGETS = {1, 2, 0, 2};

    /** Every registered name on every network kind. */
    static Stream<Arguments> table() {
        return AttributorFixtures.everyMethodOn(Net.class);
    }

    private static Attributors.Options options() {
        return Attributors.Options.defaults().withSteps(16);
    }

    private static Attributor create(String name, Net kind, Attributors.Options o) {
        return Attributors.create(name, new LogitNetwork(NetworkCopy.of(network(kind))), o);
    }

    /** The method's attributor, or null when the combination is a documented refusal (asserted here). */
    private static Attributor createOrCheckRefusal(String name, Net kind, Attributors.Options o) {
        String refusal = REFUSALS.get(name + "@" + kind);
        if (refusal != null) {
            assertThatThrownBy(() -> {
                Attributor a = create(name, kind, o);
                a.attribute(inputs(kind), TARGETS);
            }).isInstanceOf(IllegalArgumentException.class).hasMessageStartingWith(refusal);
            return null;
        }
        return create(name, kind, o);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("table")
    void mapsHaveTheInputShapeTheTargetScoresAndFiniteValues(String name, Net kind) {
        Attributor a = createOrCheckRefusal(name, kind, options());
        if (a == null) {
            return;
        }
        INDArray x = inputs(kind);
        Attribution r = a.attribute(x, TARGETS);
        assertThat(r.method()).isEqualTo(name);
        assertThat(a.name()).isEqualTo(name);
        assertThat(r.maps().shape()).as("map shape").containsExactly(x.shape());
        assertThat(r.targets()).containsExactly(TARGETS);
        assertFinite(r.maps(), name + " maps");
        INDArray logits = new LogitNetwork(NetworkCopy.of(network(kind))).logits(x, N);
        assertThat(r.targetScores()).hasSize(N);
        for (int i = 0; i < N; i++) {
            assertThat(r.targetScores()[i]).as("target score %d", i)
                    .isCloseTo(logits.getDouble(i, TARGETS[i]), org.assertj.core.data.Offset.offset(1e-9));
        }
        if (r.hasCompletenessGap()) {
            assertThat(r.completenessGap()).hasSize(N);
            assertThat(Arrays.stream(r.completenessGap()).allMatch(Double::isFinite)).as("finite completeness gaps").isTrue();
        }
        double maxAbs = Math.max(Math.abs(r.maps().maxNumber().doubleValue()), Math.abs(r.maps().minNumber().doubleValue()));
        assertThat(maxAbs).as("%s gives some non-zero relevance", name).isGreaterThan(0.0);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("table")
    void theTargetMatters(String name, Net kind) {
        Attributor a = createOrCheckRefusal(name, kind, options());
        if (a == null) {
            return;
        }
        INDArray x = inputs(kind);
        Attribution first = a.attribute(x, TARGETS);
        Attribution other = a.attribute(x, OTHER_TARGETS);
        for (int i = 0; i < N; i++) {
            INDArray m1 = first.map(i);
            INDArray m2 = other.map(i);
            double scale = Math.max(1e-12, Math.max(m1.norm2Number().doubleValue(), m2.norm2Number().doubleValue()));
            double diff = m1.sub(m2).norm2Number().doubleValue();
            assertThat(diff / scale).as("%s: example %d explained for class %d and for class %d gives the same map",
                    name, i, TARGETS[i], OTHER_TARGETS[i]).isGreaterThan(1e-6);
        }
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("table")
    void batchingDoesNotChangeResults(String name, Net kind) {
        Attributor a = createOrCheckRefusal(name, kind, options());
        if (a == null) {
            return;
        }
        INDArray x = inputs(kind);
        Attribution batch = a.attribute(x, TARGETS);

        // internal batches of one row give the same maps as one internal batch
        Attribution rowByRow = create(name, kind, options().withBatchSize(1)).attribute(x, TARGETS);
        for (int i = 0; i < N; i++) {
            assertSame(rowByRow.map(i), batch.map(i), name + " internal batch size 1, example " + i);
        }

        // each example alone gives its map in the batch
        int compared = BATCH_DEPENDENT.containsKey(name) ? 1 : N;
        for (int i = 0; i < compared; i++) {
            long[] one = x.shape().clone();
            one[0] = 1;
            INDArray xi = x.getRow(i).dup().reshape(one);
            Attribution alone = create(name, kind, options()).attribute(xi, new int[]{TARGETS[i]});
            assertThat(alone.maps().shape()).containsExactly(one);
            assertSame(alone.map(0), batch.map(i), name + " example " + i + " alone vs in the batch");
            assertThat(alone.targetScores()[0]).isCloseTo(batch.targetScores()[i],
                    org.assertj.core.data.Offset.offset(1e-9));
        }
    }

    /** The documented exception to "batching does not change results" is real (else drop it from the table). */
    @Test
    void smoothGradsBatchDependenceIsRealAndOnlyThroughTheNoiseStream() {
        assertThat(Attributors.NAMES).containsAll(BATCH_DEPENDENT.keySet());
        INDArray x = inputs(Net.MLP);
        Attribution batch = create("smoothgrad", Net.MLP, options()).attribute(x, TARGETS);
        Attribution second = create("smoothgrad", Net.MLP, options())
                .attribute(x.getRow(1).dup().reshape(1, MLP_DIM), new int[]{TARGETS[1]});
        assertThat(second.map(0).sub(batch.map(1)).norm2Number().doubleValue()).isGreaterThan(1e-9);
        // without noise it is the plain gradient and batch-independent
        Attributors.Options noNoise = new Attributors.Options(128, 16, IntegratedGradients.Rule.RIEMANN_RIGHT, 1e-6,
                null, null, 3, 1, 0.0, 0.0, 3, 42L);
        Attribution quietBatch = create("smoothgrad", Net.MLP, noNoise).attribute(x, TARGETS);
        Attribution quietSecond = create("smoothgrad", Net.MLP, noNoise)
                .attribute(x.getRow(1).dup().reshape(1, MLP_DIM), new int[]{TARGETS[1]});
        assertSame(quietSecond.map(0), quietBatch.map(1), "smoothgrad without noise");
    }

    @Test
    void everyRegisteredNameIsCreatedOnTheCnnAndAnUnknownNameListsTheValidOnes() {
        for (String name : Attributors.NAMES) {
            assertThat(create(name, Net.CNN, options()).name()).isEqualTo(name);
        }
        assertThatThrownBy(() -> create("no-such-method", Net.MLP, options()))
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("Unknown attribution method 'no-such-method'")
                .hasMessageContaining(Attributors.NAMES.toString());
        assertThat(REFUSALS.keySet()).allMatch(k -> Attributors.NAMES.contains(k.substring(0, k.indexOf('@'))));
    }

    private static void assertFinite(INDArray a, String what) {
        double[] v = a.dup().reshape(a.length()).toDoubleVector();
        for (int i = 0; i < v.length; i++) {
            if (!Double.isFinite(v[i])) {
                fail(what + ": value " + i + " is " + v[i]);
            }
        }
    }
}
