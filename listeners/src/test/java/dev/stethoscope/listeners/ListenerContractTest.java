package dev.stethoscope.listeners;

import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.probes.memorization.LassParameters;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.core.storage.StorageMetaData;
import org.deeplearning4j.core.storage.listener.RoutingIterationListener;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.junit.jupiter.api.Test;
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

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.List;
import java.util.function.BiFunction;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The contract every Stethoscope listener keeps, checked for every listener type on a small real
 * network (with dropout, so that a monitor drawing from ND4J's random generator on the training
 * thread would change training) and generated data:
 * <ol type="a">
 *   <li>training with and without the listener, from the same seed, ends with bit-identical
 *       parameters;</li>
 *   <li>{@code close()} flushes: the records of the last scheduled analysis are in the storage
 *       right after it (background analyses are slowed down so that they are still pending when
 *       {@code fit} returns);</li>
 *   <li>closing twice is safe and publishes nothing new;</li>
 *   <li>a fault in every analysis step is published as a {@link MonitorError} and training
 *       goes on to the same parameters;</li>
 *   <li>the listener survives a Java serialisation round trip and the copy, given a new router
 *       and attached to a fresh network, publishes records made from the model of its
 *       callbacks.</li>
 * </ol>
 * and, without serialisation, a listener attached to another network than the builder's works on
 * the network of its callbacks.
 * A new listener type is one more {@link #ROWS} entry.
 *
 * <p>Every check runs over the model kinds ({@link Kind}): the MLP as a MultiLayerNetwork, the same layers
 * (dropout included) as a ComputationGraph, for every listener whose row says it supports graphs, and a
 * ComputationGraph with two inputs (the first and last four features, each through its own dense layer with dropout,
 * merged) for every listener whose row says it supports several inputs. There the listeners take the same data in the
 * joint form (each example's inputs concatenated: the original eight features), the graph trains on a
 * MultiDataSetIterator, and the rows that track the iterator train without tracking (examples identified by content
 * hash). A row that does not support a kind must refuse it at build time
 * ({@link #rowsWithoutGraphSupportRefuseAGraphAtBuild}, {@link #rowsWithoutMultiInputSupportRefuseATwoInputGraphAtBuild}).
 */
class ListenerContractTest {
    private static final int EPOCHS = 2;
    private static final long RNG_SEED = 777;
    private static final DataSet ALL = TestNets.blobs(11, 160, 8, 3);
    private static final DataSet TRAIN = rows(0, 96);
    private static final DataSet PROBE = rows(96, 160);
    private static final LassParameters LASS = LassParameters.defaults().withInputRange(Double.NEGATIVE_INFINITY,
            Double.POSITIVE_INFINITY).withRadius(0.6).withAlpha(0.1).withBeta(0.05).withMaxIterations(10).withSeed(3);

    /**
     * One listener type: how to build it for a network and a router, the record type its scheduled
     * analyses publish, and the iterator it trains on (the training-dynamics listener tracks the
     * batches).
     */
    record Row(String name, BiFunction<Model, StatsStorageRouter, StethoscopeListener> build,
               String recordType,
               BiFunction<StethoscopeListener, DataSetIterator, DataSetIterator> trainOn, boolean graphs,
               boolean multiInput) {
        Row(String name, BiFunction<Model, StatsStorageRouter, StethoscopeListener> build,
            String recordType) {
            this(name, build, recordType, (l, it) -> it, true, true);
        }

        Row(String name, BiFunction<Model, StatsStorageRouter, StethoscopeListener> build,
            String recordType, BiFunction<StethoscopeListener, DataSetIterator, DataSetIterator> trainOn) {
            this(name, build, recordType, trainOn, true, true);
        }

        /** This row for MultiLayerNetworks only. */
        Row multiLayerOnly() {
            return new Row(name, build, recordType, trainOn, false, false);
        }

        /** This row for MultiLayerNetworks and single-input graphs only. */
        Row singleInputOnly() {
            return new Row(name, build, recordType, trainOn, graphs, false);
        }

        @Override
        public String toString() {
            return name;
        }
    }

    static final List<Row> ROWS = List.of(
            new Row("health", (net, r) -> HealthListener.builder(net, r).schedule(Schedule.iterations(2))
                    .probeBatchSize(16).build(), Health.TYPE_ID),
            new Row("linear probes", (net, r) -> LinearProbeListener.builder(net, r).probeData(PROBE).build(),
                    ProbeAccuracy.TYPE_ID),
            new Row("similarity", (net, r) -> SvccaListener.builder(net, r).probeInputs(PROBE.getFeatures()).build(),
                    SimilarityTable.TYPE_ID),
            new Row("memorisation", (net, r) -> MemorizationListener.builder(net, r).training(TRAIN).validation(PROBE)
                    .trainingSize(32).validationSize(32).csrBatchSize(32).lass(LASS)
                    .sensitivitySchedule(Schedule.iterations(3)).build(), Memorization.TYPE_ID),
            new Row("training dynamics", (net, r) -> TrainingDynamicsListener.builder(net, r)
                    .numExamples(TRAIN.numExamples()).topK(5).build(), Suspects.TYPE_ID,
                    (l, it) -> ((TrainingDynamicsListener) l).track(it)),
            new Row("training dynamics, inference copy", (net, r) -> TrainingDynamicsListener.builder(net, r)
                    .numExamples(TRAIN.numExamples()).topK(5).capture(TrainingDynamicsListener.Capture.INFERENCE_COPY)
                    .build(), Suspects.TYPE_ID, (l, it) -> ((TrainingDynamicsListener) l).track(it))
                    .singleInputOnly(),
            new Row("attribution", (net, r) -> AttributionListener.builder(net, r).examplesPerClass(PROBE, 1)
                    .methods("saliency", "ig").build(), AttributionMaps.TYPE_ID),
            // a user assertion firing at every 2nd epoch end this listener sees (the last one of each training
            // here), with re-arming after one absent evaluation; the built-in detectors and the validation copy run too
            new Row("assertions", (net, r) -> ModelAssertions.builder(net, r).validation(PROBE).rearmAfter(1)
                    .assertThatEpochs("every-second-epoch", "An even number of epochs",
                            w -> w.epochs().size() % 2 == 0 ? Severity.WARNING : Severity.NONE)
                    .build(), AssertionFinding.TYPE_ID),
            // per-example assertions on the tracked training batches and on held-out data (on a copy), a
            // time-consistency assertion, and the checkpoint and send-to-suspects actions at every firing
            new Row("assertions, examples and actions", (net, r) -> ModelAssertions.builder(net, r)
                    .assertExamples("positive-first-feature", "First feature above 0",
                            (x, out, y) -> x.getDouble(0) > 0 ? x.getDouble(0) : 0)
                    .assertExamples("held-out-unsure", "Held-out output below 0.9",
                            (x, out, y) -> out.maxNumber().doubleValue() < 0.9 ? 1 - out.maxNumber().doubleValue() : 0,
                            PROBE, Schedule.epochs(1))
                    .assertTimeConsistency("flicker", "Flickers", PROBE, 2, 0)
                    .action("held-out-unsure", AssertionListener.Action.CHECKPOINT, AssertionListener.Action.SEND_TO_SUSPECTS)
                    .action("positive-first-feature", AssertionListener.Action.SEND_TO_SUSPECTS)
                    .checkpointDirectory(java.nio.file.Path.of("target", "contract-checkpoints"))
                    .build(), AssertionFinding.TYPE_ID, (l, it) -> ((AssertionListener) l).track(it)),
            new Row("feature evolution", (net, r) -> dev.stethoscope.listeners.features.FeatureEvolutionListener
                    .builder(net, r).schedule(Schedule.epochs(1)).probeExamples(16).build(),
                    dev.stethoscope.listeners.records.FeatureSnapshot.TYPE_ID,
                    (l, it) -> ((dev.stethoscope.listeners.features.FeatureEvolutionListener) l).track(it)));

    /** The model kinds every supporting row runs on. */
    enum Kind {
        MULTI_LAYER, GRAPH, TWO_INPUT;

        /** A fresh network of this kind: the MLP, the same layers as a chain ComputationGraph, or the two-input graph. */
        Model build() {
            if (this == TWO_INPUT) {
                return twoInput();
            }
            MultiLayerNetwork mlp = mlp();
            return this == MULTI_LAYER ? mlp : TestNets.asGraph(mlp);
        }

        @Override
        public String toString() {
            return switch (this) {
                case MULTI_LAYER -> "MultiLayerNetwork";
                case GRAPH -> "ComputationGraph";
                case TWO_INPUT -> "ComputationGraph with two inputs";
            };
        }
    }

    static Stream<Arguments> rows() {
        return Stream.of(Kind.values()).flatMap(k -> ROWS.stream().filter(r -> k == Kind.MULTI_LAYER
                        || k == Kind.GRAPH && r.graphs() || k == Kind.TWO_INPUT && r.multiInput())
                .map(r -> Arguments.of(r, k)));
    }

    private static boolean twoInputs(Model m) {
        return m instanceof ComputationGraph g && g.getConfiguration().getNetworkInputs().size() > 1;
    }

    /** The training data for {@code m}: the indexed iterator, or for the two-input graph the same batches split. */
    private static Object data(Model m) {
        return twoInputs(m) ? TwoInputNets.iterator(TRAIN, 16, 4) : data();
    }

    /** The training data for {@code m} as {@code row} trains on it (tracked, except on the two-input graph). */
    private static Object trainOn(Row row, StethoscopeListener l, Model m) {
        Object it = data(m);
        return it instanceof DataSetIterator d ? row.trainOn().apply(l, d) : it;
    }

    private static void fit(Model m, Object it, int epochs) {
        if (it instanceof org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator mi) {
            ((ComputationGraph) m).fit(mi, epochs);
        } else if (m instanceof ComputationGraph g) {
            g.fit((DataSetIterator) it, epochs);
        } else {
            ((MultiLayerNetwork) m).fit((DataSetIterator) it, epochs);
        }
    }

    /**
     * Two inputs "a" (features 0..3) and "b" (features 4..7): dense 8 ReLU with dropout on each, merged, dense 12 tanh,
     * softmax over 3 classes.
     */
    private static ComputationGraph twoInput() {
        var conf = new NeuralNetConfiguration.Builder()
                .seed(42).dataType(DataType.FLOAT).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER)
                .graphBuilder()
                .addInputs("a", "b")
                .addLayer("dense1a", new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.RELU)
                        .dropOut(0.8).build(), "a")
                .addLayer("dense1b", new DenseLayer.Builder().nIn(4).nOut(8).activation(Activation.RELU)
                        .dropOut(0.8).build(), "b")
                .addVertex("cat", new org.deeplearning4j.nn.conf.graph.MergeVertex(), "dense1a", "dense1b")
                .addLayer("dense2", new DenseLayer.Builder().nIn(16).nOut(12).activation(Activation.TANH).build(), "cat")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(12).nOut(3)
                        .activation(Activation.SOFTMAX).build(), "dense2")
                .setOutputs("out").build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    private static int epochCount(Model m) {
        return m instanceof ComputationGraph g ? g.getEpochCount() : ((MultiLayerNetwork) m).getEpochCount();
    }

    private static long iterationCount(Model m) {
        return m instanceof ComputationGraph g ? g.getIterationCount() : ((MultiLayerNetwork) m).getIterationCount();
    }

    @Test
    void rowsWithoutMultiInputSupportRefuseATwoInputGraphAtBuild() {
        List<String> refusing = new ArrayList<>();
        for (Row row : ROWS) {
            if (!row.multiInput()) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> row.build().apply(Kind.TWO_INPUT.build(),
                        new Recorder())).as(row.name()).isInstanceOfAny(IllegalArgumentException.class,
                        UnsupportedOperationException.class, ClassCastException.class);
                refusing.add(row.name());
            }
        }
        assertThat(refusing).containsExactly("training dynamics, inference copy");
    }

    @Test
    void rowsWithoutGraphSupportRefuseAGraphAtBuild() {
        for (Row row : ROWS) {
            if (!row.graphs()) {
                org.assertj.core.api.Assertions.assertThatThrownBy(() -> row.build().apply(Kind.GRAPH.build(),
                        new Recorder())).as(row.name()).isInstanceOfAny(IllegalArgumentException.class,
                        UnsupportedOperationException.class, ClassCastException.class);
            }
        }
    }

    private static DataSet rows(int from, int to) {
        int[] r = java.util.stream.IntStream.range(from, to).toArray();
        return new DataSet(ALL.getFeatures().getRows(r), ALL.getLabels().getRows(r));
    }

    /** MLP 8-16-12-3 with dropout on the first layer. */
    private static MultiLayerNetwork net() {
        return mlp();
    }

    private static MultiLayerNetwork mlp() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(42).dataType(DataType.FLOAT).updater(new Adam(1e-2)).weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().name("dense1").nIn(8).nOut(16).activation(Activation.RELU)
                        .dropOut(0.8).build())
                .layer(new DenseLayer.Builder().name("dense2").nIn(16).nOut(12).activation(Activation.TANH).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nIn(12).nOut(3)
                        .activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        return n;
    }

    /** The training data in a fixed order, with example indices (96 examples, 6 batches of 16). */
    private static DataSetIterator data() {
        return IndexedArrayIterator.builder(TRAIN.getFeatures(), TRAIN.getLabels()).batchSize(16).noShuffle().build();
    }

    /** Trains {@code net} for {@link #EPOCHS} epochs from a fixed state of ND4J's random generator (dropout). */
    private static void train(Model net, Object it) {
        Nd4j.getRandom().setSeed(RNG_SEED);
        fit(net, it, EPOCHS);
    }

    /** The parameters after training without any listener. */
    private static float[] bareParameters() {
        return bareParameters(Kind.MULTI_LAYER);
    }

    /** The parameters of a network of {@code kind} after training without any listener. */
    private static float[] bareParameters(Kind kind) {
        Model net = kind.build();
        train(net, data(net));
        return net.params().toFloatVector();
    }

    /** A router that keeps every record it is given, in order. */
    static final class Recorder implements StatsStorageRouter {
        final List<Persistable> updates = Collections.synchronizedList(new ArrayList<>());
        final List<Persistable> statics = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void putStorageMetaData(StorageMetaData m) {
        }

        @Override
        public void putStorageMetaData(Collection<? extends StorageMetaData> m) {
        }

        @Override
        public void putStaticInfo(Persistable p) {
            statics.add(p);
        }

        @Override
        public void putStaticInfo(Collection<? extends Persistable> c) {
            statics.addAll(c);
        }

        @Override
        public void putUpdate(Persistable p) {
            updates.add(p);
        }

        @Override
        public void putUpdate(Collection<? extends Persistable> c) {
            updates.addAll(c);
        }

        List<StethoscopeRecord> updates(String typeId) {
            synchronized (updates) {
                return updates.stream().filter(p -> p.getTypeID().equals(typeId)).map(p -> (StethoscopeRecord) p)
                        .toList();
            }
        }

        int total() {
            return updates.size() + statics.size();
        }
    }

    private static String errorMonitor(StethoscopeRecord r) {
        return r.payload(MonitorError.class).monitor();
    }

    private static String errorMessage(StethoscopeRecord r) {
        return r.payload(MonitorError.class).message();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("rows")
    void trainingIsBitIdenticalWithAndWithoutTheListener(Row row, Kind kind) {
        Model net = kind.build();
        Recorder rec = new Recorder();
        StethoscopeListener l = row.build().apply(net, rec);
        net.setListeners(l);
        try {
            train(net, trainOn(row, l, net));
        } finally {
            l.close();
        }
        assertThat(l.errorCount()).as("errors of %s", row).isZero();
        assertThat(rec.updates(row.recordType())).as("records of %s", row).isNotEmpty();
        assertThat(net.params().toFloatVector()).as("parameters after training with %s", row)
                .containsExactly(bareParameters(kind));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("rows")
    void closeFlushesTheLastScheduledAnalysisAndClosingTwicePublishesNothingNew(Row row, Kind kind) {
        Model net = kind.build();
        Recorder rec = new Recorder();
        StethoscopeListener l = row.build().apply(net, rec);
        // slow background analyses down, so the last epoch's is still pending when fit returns
        l.setFaultHook((monitor, phase, background) -> {
            if (background) {
                Thread.sleep(40);
            }
        });
        net.setListeners(l);
        train(net, trainOn(row, l, net));
        l.close();
        int lastEpoch = epochCount(net) - 1;
        assertThat(rec.updates(row.recordType())).as("%s records right after close()", row)
                .anySatisfy(r -> assertThat(r.getEpoch()).isEqualTo(lastEpoch));
        assertThat(l.errorCount()).isZero();

        int published = rec.total();
        l.close();
        assertThat(rec.total()).as("records published by a second close() of %s", row).isEqualTo(published);
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("rows")
    void aFaultIsPublishedAndTrainingGoesOnToTheSameParameters(Row row, Kind kind) {
        Model net = kind.build();
        Recorder rec = new Recorder();
        StethoscopeListener l = row.build().apply(net, rec);
        l.setFaultHook((monitor, phase, background) -> {
            throw new IllegalStateException("injected fault in " + monitor + " " + phase);
        });
        net.setListeners(l);
        try {
            train(net, trainOn(row, l, net));
        } finally {
            l.close();
        }
        assertThat(epochCount(net)).isEqualTo(EPOCHS);
        assertThat(l.errorCount()).as("faults counted by %s", row).isPositive();
        List<StethoscopeRecord> errors = rec.updates(MonitorError.TYPE_ID);
        assertThat(errors).as("error records of %s", row).isNotEmpty()
                .allSatisfy(r -> assertThat(errorMonitor(r)).isEqualTo(l.monitorName()))
                .anySatisfy(r -> assertThat(errorMessage(r)).contains("injected fault"));
        assertThat(net.params().toFloatVector()).as("parameters after a failing %s", row)
                .containsExactly(bareParameters(kind));
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("rows")
    void aDeserialisedCopyPublishesToItsNewRouterFromTheModelOfItsCallbacks(Row row, Kind kind) throws Exception {
        Model original = kind.build();
        Recorder originalRouter = new Recorder();
        StethoscopeListener l = row.build().apply(original, originalRouter);

        StethoscopeListener copy = roundTrip(l);
        assertThat(copy).isNotSameAs(l).isInstanceOf(l.getClass());
        assertThat(copy.model()).as("the network is not serialised").isNull();
        assertThat(copy.getStorageRouter()).as("the router is not serialised").isNull();
        assertThat(copy.sessionId()).isEqualTo(l.sessionId());

        // a fresh network of the same architecture, already one epoch further than the original
        Model fresh = kind.build();
        fit(fresh, data(fresh), 1);
        long iterationsBefore = iterationCount(fresh);
        Recorder router = new Recorder();
        copy.setStorageRouter(router);
        copy.setWorkerID("worker-7");
        fresh.setListeners(copy);
        try {
            fit(fresh, trainOn(row, copy, fresh), EPOCHS);
        } finally {
            copy.close();
        }

        assertThat(copy.model()).as("the model of the callbacks").isSameAs(fresh);
        assertThat(copy.errorCount()).as("errors of the deserialised %s", row).isZero();
        assertThat(originalRouter.total()).as("records sent to the original's router").isZero();
        List<StethoscopeRecord> records = router.updates(row.recordType());
        assertThat(records).as("records of the deserialised %s", row).isNotEmpty()
                .allSatisfy(r -> {
                    assertThat(r.getSessionID()).isEqualTo(l.sessionId());
                    assertThat(r.getWorkerID()).startsWith("worker-7/");
                    assertThat(r.getIteration()).isLessThanOrEqualTo(iterationCount(fresh));
                });
        // stamped with the counters of the fresh network, which started one epoch ahead of the
        // original: its last epoch is epoch 2 (0-based); the original never trained
        assertThat(records).anySatisfy(r -> {
            assertThat(r.getEpoch()).isEqualTo(epochCount(fresh) - 1).isEqualTo(EPOCHS);
            assertThat(r.getIteration()).isGreaterThan(iterationsBefore);
        });
        assertThat(router.statics).as("run info announced to the new router").isNotEmpty();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("rows")
    void aListenerAttachedToAnotherNetworkWorksOnTheModelOfItsCallbacks(Row row, Kind kind) {
        Model builtFor = kind.build();
        Recorder rec = new Recorder();
        StethoscopeListener l = row.build().apply(builtFor, rec);
        INDArray untouched = builtFor.params().dup();

        Model other = kind.build();
        fit(other, data(other), 1);
        other.setListeners(l);
        try {
            fit(other, trainOn(row, l, other), EPOCHS);
        } finally {
            l.close();
        }
        assertThat(l.model()).isSameAs(other);
        assertThat(l.errorCount()).isZero();
        assertThat(iterationCount(builtFor)).isZero();
        assertThat(builtFor.params().toFloatVector()).containsExactly(untouched.toFloatVector());
        // the last analysis is stamped with the other network's last epoch (2), not the builder's (0)
        assertThat(rec.updates(row.recordType())).as("records of %s", row)
                .anySatisfy(r -> assertThat(r.getEpoch()).isEqualTo(epochCount(other) - 1).isEqualTo(EPOCHS));
    }

    @Test
    void monitorsSharingAnAnalysisContextTravelAndRunAloneAfterDeserialisation() throws Exception {
        MultiLayerNetwork original = net();
        Recorder rec = new Recorder();
        List<StethoscopeListener> copies = new ArrayList<>();
        try (Stethoscope handle = Stethoscope.attach(original, rec,
                HealthListener.builder(original, rec).schedule(Schedule.iterations(2)).probeBatchSize(16),
                LinearProbeListener.builder(original, rec).probeData(PROBE),
                SvccaListener.builder(original, rec).probeInputs(PROBE.getFeatures()))) {
            assertThat(handle.context()).isNotNull();
            for (StethoscopeListener m : handle.monitors()) {
                copies.add(roundTrip(m));
            }
        }
        MultiLayerNetwork fresh = net();
        Recorder router = new Recorder();
        for (StethoscopeListener c : copies) {
            c.setStorageRouter(router);
            fresh.addListeners(c);
        }
        try {
            train(fresh, data());
        } finally {
            copies.forEach(StethoscopeListener::close);
        }
        for (StethoscopeListener c : copies) {
            assertThat(c.errorCount()).as("errors of the deserialised %s", c.monitorName()).isZero();
        }
        for (String type : List.of(Health.TYPE_ID, ProbeAccuracy.TYPE_ID, SimilarityTable.TYPE_ID)) {
            assertThat(router.updates(type)).as("records of type %s", type)
                    .anySatisfy(r -> assertThat(r.getEpoch()).isEqualTo(EPOCHS - 1));
        }
        assertThat(rec.updates(Health.TYPE_ID)).as("records sent to the handle's router").isEmpty();
        assertThat(fresh.params().toFloatVector()).containsExactly(bareParameters());
    }

    @Test
    void everyListenerTypeIsARoutingIterationListener() {
        for (Row row : ROWS) {
            StethoscopeListener l = row.build().apply(net(), new Recorder());
            assertThat(l).as(row.name()).isInstanceOf(RoutingIterationListener.class)
                    .isInstanceOf(java.io.Serializable.class);
            l.close();
        }
    }

    @Test
    void aDeserialisedListenerWithoutARouterRecordsTheProblemAndTrainingGoesOn() throws Exception {
        StethoscopeListener copy = roundTrip(HealthListener.builder(net(), new Recorder())
                .schedule(Schedule.iterations(2)).build());
        MultiLayerNetwork fresh = net();
        fresh.setListeners(copy);
        train(fresh, data());
        copy.close();
        assertThat(fresh.getEpochCount()).isEqualTo(EPOCHS);
        assertThat(copy.errorCount()).isPositive();
        assertThat(fresh.params().toFloatVector()).containsExactly(bareParameters());
    }

    @Test
    void cloneIsADeepCopyPublishingToTheSameRouter() {
        MultiLayerNetwork net = net();
        Recorder rec = new Recorder();
        HealthListener l = HealthListener.builder(net, rec).schedule(Schedule.iterations(2)).build();
        StethoscopeListener c = l.clone();
        assertThat(c).isNotSameAs(l).isInstanceOf(HealthListener.class);
        assertThat(c.getStorageRouter()).isSameAs(rec);
        net.setListeners(c);
        train(net, data());
        c.close();
        assertThat(c.errorCount()).isZero();
        assertThat(rec.updates(Health.TYPE_ID)).isNotEmpty();
    }

    @SuppressWarnings("unchecked")
    private static <T> T roundTrip(T o) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray()))) {
            return (T) in.readObject();
        }
    }
}
