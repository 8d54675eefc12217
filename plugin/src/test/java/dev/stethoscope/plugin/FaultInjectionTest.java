package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.core.BackgroundListener;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.probes.memorization.LassParameters;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Fault injection, per monitor type: an exception and an {@link Error} thrown inside the
 * analysis (through {@link StethoscopeListener#setFaultHook}), on the training thread and, for
 * monitors with one, on the background thread. Training must complete with parameters
 * bit-identical to a run without the monitor, and the error record must be in the storage and
 * served by the route the page's "Monitor errors" panel reads.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class FaultInjectionTest {
    static final int N = 96;
    static final int DIM = 8;
    static final int CLASSES = 3;
    static final int EPOCHS = 2;

    /** An Error that is not an AssertionError (which the old guard let through). */
    static final class InjectedError extends Error {
        InjectedError(String m) {
            super(m);
        }
    }

    StethoscopeUIServer server;
    InMemoryStatsStorage storage;
    DataSet data;
    DataSet heldOut;
    INDArray reference;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void setUp() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        storage = new InMemoryStatsStorage();
        server.attach(storage);
        data = blobs(11, N);
        heldOut = blobs(12, 60);
        MultiLayerNetwork plain = net();
        plain.fit(iterator(), EPOCHS);
        reference = plain.params().dup();
    }

    @AfterAll
    void tearDown() {
        if (server != null) {
            server.close();
        }
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String m : List.of("health", "probes", "similarity", "memorisation", "suspects", "attributions")) {
            boolean hasBackground = !m.equals("health") && !m.equals("attributions");
            for (boolean error : new boolean[]{false, true}) {
                out.add(Arguments.of(m, error, false));
                if (hasBackground) {
                    out.add(Arguments.of(m, error, true));
                }
            }
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0}, error={1}, background={2}")
    @MethodSource("cases")
    void injectedFailureNeitherStopsNorChangesTrainingAndIsServed(String monitor, boolean error, boolean background)
            throws Exception {
        MultiLayerNetwork net = net();
        DataSetIterator train = iterator();
        StethoscopeListener l = attach(monitor, net);
        if (l instanceof TrainingDynamicsListener d) {
            train = d.track(train);
        }
        String what = "injected into " + monitor + (background ? " (background)" : " (training thread)");
        l.setFaultHook((name, phase, bg) -> {
            if (bg == background) {
                if (error) {
                    throw new InjectedError(what);
                }
                throw new IllegalStateException(what);
            }
        });
        net.fit(train, EPOCHS);
        if (l instanceof BackgroundListener b) {
            b.close();
        }

        assertThat(net.getEpochCount()).isEqualTo(EPOCHS);
        assertThat(net.params().toFloatVector()).as("parameters equal those of a run without the monitor")
                .containsExactly(reference.toFloatVector());
        String expectedClass = error ? InjectedError.class.getName() : IllegalStateException.class.getName();
        assertThat(l.errorCount()).isPositive();
        List<Persistable> errors = storage.getAllUpdatesAfter(l.sessionId(), MonitorError.TYPE_ID, 0);
        assertThat(errors).isNotEmpty();
        assertThat(errors).allSatisfy(p -> {
            MonitorError r = ((StethoscopeRecord) p).payload(MonitorError.class);
            assertThat(r.exceptionClass()).isEqualTo(expectedClass);
            assertThat(r.message()).isEqualTo(what);
        });
        // rate limited: at most one record per phase and power of two of its count
        assertThat(errors.size()).isLessThanOrEqualTo(l.errorCount());

        HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + "/stethoscope/api/records/" + l.sessionId() + "/" + MonitorError.TYPE_ID)).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(page.statusCode()).isEqualTo(200);
        assertThat(page.body()).contains(expectedClass).contains(what).contains("\"count\"");
    }

    private StethoscopeListener attach(String monitor, MultiLayerNetwork net) {
        return switch (monitor) {
            case "health" -> HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).attach();
            case "probes" -> LinearProbeListener.builder(net, storage).probeData(heldOut).schedule(Schedule.epochs(1).andLast().totalEpochs(EPOCHS)).attach();
            case "similarity" -> SvccaListener.builder(net, storage).probeInputs(heldOut.getFeatures())
                    .schedule(Schedule.epochs(1).andLast().totalEpochs(EPOCHS)).attach();
            case "memorisation" -> MemorizationListener.builder(net, storage)
                    .training(iterator()).validation(heldOut).trainingSize(32).validationSize(20)
                    .lass(LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY)
                            .withMaxIterations(5).withSeed(3))
                    .csrBatchSize(20).sensitivitySchedule(Schedule.iterations(3)).attach();
            case "suspects" -> TrainingDynamicsListener.builder(net, storage).numExamples(N).topK(5).attach();
            case "attributions" -> AttributionListener.builder(net, storage).methods("saliency", "ig")
                    .examplesPerClass(heldOut, 1).schedule(Schedule.epochs(1).andLast().totalEpochs(EPOCHS)).attach();
            default -> throw new IllegalArgumentException(monitor);
        };
    }

    private DataSetIterator iterator() {
        return IndexedArrayIterator.builder(data.getFeatures(), data.getLabels()).batchSize(16).noShuffle().build();
    }

    static MultiLayerNetwork net() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(5).dataType(DataType.FLOAT).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER).list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(DIM).nOut(12).activation(Activation.RELU).build())
                .layer(new DenseLayer.Builder().name("dense2").nIn(12).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(8).nOut(CLASSES)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static DataSet blobs(long seed, int n) {
        Random r = new Random(seed);
        float[][] centres = new float[CLASSES][DIM];
        for (float[] c : centres) {
            for (int d = 0; d < DIM; d++) {
                c[d] = (float) (r.nextGaussian() * 2);
            }
        }
        INDArray x = Nd4j.create(DataType.FLOAT, n, DIM);
        INDArray y = Nd4j.create(DataType.FLOAT, n, CLASSES);
        for (int i = 0; i < n; i++) {
            int c = i % CLASSES;
            for (int d = 0; d < DIM; d++) {
                x.putScalar(i, d, centres[c][d] + r.nextGaussian());
            }
            y.putScalar(i, c, 1f);
        }
        return new DataSet(x, y);
    }
}
