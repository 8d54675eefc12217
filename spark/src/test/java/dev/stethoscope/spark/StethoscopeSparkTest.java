package dev.stethoscope.spark;

import dev.stethoscope.listeners.Stethoscope;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.AttributionMaps;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.probes.assertions.Severity;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.api.Repartition;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputFilter;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stethoscope on DL4J's Spark training in {@code local[2]}: real Spark, real parameter averaging,
 * real listeners serialised to the tasks.
 */
class StethoscopeSparkTest {
    private static final int N = 240;
    private static final int BATCH = 16;
    private static JavaSparkContext sc;

    @BeforeAll
    static void startSpark() {
        SparkConf conf = new SparkConf().setMaster("local[2]").setAppName("stethoscope-spark-test")
                .set("spark.ui.enabled", "false").set("spark.driver.host", "127.0.0.1");
        sc = new JavaSparkContext(conf);
    }

    @AfterAll
    static void stopSpark() {
        if (sc != null) {
            sc.stop();
        }
    }

    private static ParameterAveragingTrainingMaster master(Integer workers, int averagingFrequency) {
        ParameterAveragingTrainingMaster.Builder b = workers == null
                ? new ParameterAveragingTrainingMaster.Builder(1) : new ParameterAveragingTrainingMaster.Builder(workers, 1);
        return b.batchSizePerWorker(BATCH).averagingFrequency(averagingFrequency).workerPrefetchNumBatches(0)
                .rddTrainingApproach(RDDTrainingApproach.Direct).repartionData(Repartition.Never).build();
    }

    private static Set<String> workersOf(InMemoryStatsStorage storage, String session, String typeId) {
        Set<String> out = new TreeSet<>();
        for (Persistable p : storage.getAllUpdatesAfter(session, typeId, 0)) {
            out.add(p.getWorkerID());
        }
        return out;
    }

    private static List<StethoscopeRecord> updates(InMemoryStatsStorage storage, String session, String typeId) {
        List<StethoscopeRecord> out = new ArrayList<>();
        for (Persistable p : storage.getAllUpdatesAfter(session, typeId, 0)) {
            out.add((StethoscopeRecord) p);
        }
        return out;
    }

    /**
     * The FULL preset over {@code examples} (memorisation's training and validation sets are the examples and
     * {@code heldOut}) for two epochs, analyses on the calling thread, and an assertion that fires at every check.
     */
    private static StethoscopeSpark.Setup fullPreset(List<DataSet> examples, DataSet heldOut) {
        return StethoscopeSpark.preset(Stethoscope.Preset.FULL)
                .numExamples(N).probeData(heldOut)
                .training(new ListDataSetIterator<>(examples, BATCH)).validation(new ListDataSetIterator<>(heldOut.asList(), BATCH))
                .totalEpochs(2).async(false)
                .tuneAssertions(b -> b.assertThat("always", w -> Severity.WARNING));
    }

    /** Two epochs on {@code train}, then {@code close()} (also when an epoch fails). */
    private static void fitTwoEpochs(StethoscopeSpark s, JavaRDD<DataSet> train) {
        try {
            s.fit(train);
            s.fit(train);
        } finally {
            s.close();
        }
    }

    /** The workers whose per-minibatch training-dynamics records reached the driver. */
    private static Set<String> dynamicsWorkers(StethoscopeSpark s) {
        Set<String> workers = new TreeSet<>(s.recordsByWorker().keySet());
        workers.removeIf(w -> !w.endsWith("/training-dynamics"));
        return workers;
    }

    /** Every example seen twice by both, with the same AUM, confidence, mean loss, forgetting events and prediction. */
    private static void assertSameDynamicsOverTwoEpochs(TrainingDynamics a, TrainingDynamics b) {
        for (int i = 0; i < N; i++) {
            assertThat(a.count(i)).isEqualTo(b.count(i)).isEqualTo(2);
            assertThat(a.aum(i)).as("AUM of %d", i).isCloseTo(b.aum(i), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(a.confidence(i)).isCloseTo(b.confidence(i), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(a.meanLoss(i)).isCloseTo(b.meanLoss(i), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(a.forgettingEvents(i)).isEqualTo(b.forgettingEvents(i));
            assertThat(a.predictedLabel(i)).isEqualTo(b.predictedLabel(i));
        }
    }

    @Test
    void localTwoWorkersDeliverEveryMonitorsRecordsWithTheirWorkerIds() {
        List<DataSet> examples = SparkTestData.blobs(N, 1);
        DataSet heldOut = SparkTestData.merged(SparkTestData.blobs(64, 2));
        MultiLayerNetwork net = SparkTestData.mlp(16, 3);
        // 2 workers x 16 x 8 >= 240: one averaging round an epoch, so every example is trained (with
        // several rounds DL4J splits the data at random and a worker fits at most averagingFrequency
        // batches a round: the rest of an uneven split is not trained that epoch)
        SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, master(null, 8));
        JavaRDD<DataSet> train = StethoscopeSpark.indexExamples(sc.parallelize(examples, 2));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeSpark s = fullPreset(examples, heldOut).attach(sparkNet, storage);
        fitTwoEpochs(s, train);
        assertThat(s.skipped()).as("every monitor attached").isEmpty();
        String session = s.dynamics().sessionId();
        assertThat(storage.listSessionIDs()).contains(session);

        // worker side: health and assertions from both workers (DL4J names each worker copy JVMUID_n)
        Set<String> healthWorkers = workersOf(storage, session, Health.TYPE_ID);
        Set<String> assertionWorkers = workersOf(storage, session, AssertionFinding.TYPE_ID);
        Set<String> dynamicsWorkers = dynamicsWorkers(s);
        System.out.println("health workers " + healthWorkers + "; assertion workers " + assertionWorkers
                + "; records per delivery " + s.recordsPerDelivery() + "; by worker " + s.recordsByWorker());
        assertThat(workerIdsOtherThanDriver(healthWorkers)).as("health records from two workers at least").hasSizeGreaterThanOrEqualTo(2);
        assertThat(workerIdsOtherThanDriver(assertionWorkers)).as("assertion records from two workers").hasSizeGreaterThanOrEqualTo(2);
        assertThat(dynamicsWorkers).as("worker batches from two workers").hasSizeGreaterThanOrEqualTo(2);
        for (StethoscopeRecord r : updates(storage, session, Health.TYPE_ID)) {
            if (!r.getWorkerID().startsWith("0/")) {
                assertThat(r.payload(Health.class).source()).isEqualTo("train-batch");
            }
        }
        // the per-batch logits were merged on the driver, not stored
        assertThat(storage.listTypeIDsForSession(session)).doesNotContain(ExampleLogits.TYPE_ID);
        // the workers' records arrive once per averaging round (here one round an epoch)
        assertThat(s.recordsPerDelivery()).hasSize(2).allMatch(n -> n > 0);

        // merged dynamics: every example seen exactly once per epoch, with its given label
        TrainingDynamics d = s.dynamics().dynamics();
        for (int i = 0; i < N; i++) {
            assertThat(d.count(i)).as("observations of example %d", i).isEqualTo(2);
            assertThat(d.lastEpoch(i)).isEqualTo(1);
            assertThat(d.givenLabel(i)).isEqualTo(TrainingDynamics.labelsOf(examples.get(i).getLabels())[0]);
        }
        List<StethoscopeRecord> suspects = updates(storage, session, Suspects.TYPE_ID);
        assertThat(suspects).extracting(StethoscopeRecord::getEpoch).containsExactly(0, 1);

        // driver side: the epoch analyses of the averaged network, at each epoch
        for (String type : List.of(ProbeAccuracy.TYPE_ID, SimilarityTable.TYPE_ID, Memorization.TYPE_ID,
                AttributionMaps.TYPE_ID, FeatureSnapshot.TYPE_ID)) {
            List<StethoscopeRecord> rs = updates(storage, session, type);
            assertThat(rs).as(type).isNotEmpty();
            assertThat(rs).extracting(StethoscopeRecord::getEpoch).as(type).contains(1);
        }
        assertThat(updates(storage, session, Health.TYPE_ID)).filteredOn(r -> r.payload(Health.class).source().equals("probe-batch"))
                .extracting(StethoscopeRecord::getEpoch).contains(0, 1);
        assertThat(net.getEpochCount()).isEqualTo(2);
        assertThat(updates(storage, session, dev.stethoscope.listeners.records.MonitorError.TYPE_ID))
                .as("no monitor failed").isEmpty();
    }

    /**
     * A SparkComputationGraph (single input, single output, a residual sum) in local[2]: health, logits
     * and assertion records from both workers, the driver's epoch analyses of the averaged graph, and
     * the suspects ranking from the merged per-example dynamics (every example once per epoch).
     */
    @Test
    void computationGraphOnTwoWorkersDeliversEveryMonitorsRecords() {
        List<DataSet> examples = SparkTestData.blobs(N, 1);
        DataSet heldOut = SparkTestData.merged(SparkTestData.blobs(64, 2));
        org.deeplearning4j.nn.graph.ComputationGraph graph = SparkTestData.graph(16, 3);
        org.deeplearning4j.spark.impl.graph.SparkComputationGraph sparkNet =
                new org.deeplearning4j.spark.impl.graph.SparkComputationGraph(sc, graph, master(null, 8));
        JavaRDD<DataSet> train = sc.parallelize(SparkTestData.indexedBatches(examples, BATCH), 2);
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // the driver's training data: the same minibatches with their example ids (feature evolution names
        // the top-activating examples by them)
        StethoscopeSpark s = fullPreset(examples, heldOut)
                .training(new org.deeplearning4j.datasets.iterator.ExistingDataSetIterator(
                        SparkTestData.indexedBatches(examples, BATCH)))
                .attach(sparkNet, storage);
        fitTwoEpochs(s, train);
        System.out.println("graph: skipped " + s.skipped() + "; records per delivery " + s.recordsPerDelivery()
                + "; by worker " + s.recordsByWorker());
        assertThat(s.skipped()).as("the suspects monitor runs on a graph").doesNotContainKey("TrainingDynamics");
        assertThat(s.workerListeners()).extracting(StethoscopeListener::monitorName)
                .contains("training-dynamics");
        String session = s.dynamics().sessionId();
        assertThat(workerIdsOtherThanDriver(workersOf(storage, session, Health.TYPE_ID))).hasSizeGreaterThanOrEqualTo(2);
        assertThat(workerIdsOtherThanDriver(workersOf(storage, session, AssertionFinding.TYPE_ID))).hasSizeGreaterThanOrEqualTo(2);
        Set<String> dynamicsWorkers = dynamicsWorkers(s);
        assertThat(dynamicsWorkers).as("worker batches from two workers").hasSizeGreaterThanOrEqualTo(2);
        TrainingDynamics d = s.dynamics().dynamics();
        for (int i = 0; i < N; i++) {
            assertThat(d.count(i)).as("observations of example %d", i).isEqualTo(2);
            assertThat(d.givenLabel(i)).isEqualTo(TrainingDynamics.labelsOf(examples.get(i).getLabels())[0]);
        }
        assertThat(updates(storage, session, Suspects.TYPE_ID)).extracting(StethoscopeRecord::getEpoch).containsExactly(0, 1);
        // every driver monitor attached to the graph published at the last epoch
        Set<String> types = new TreeSet<>(storage.listTypeIDsForSession(session));
        for (StethoscopeListener m : s.driver().monitors()) {
            System.out.println("driver monitor " + m.monitorName());
        }
        for (String type : List.of(ProbeAccuracy.TYPE_ID, SimilarityTable.TYPE_ID, Memorization.TYPE_ID,
                AttributionMaps.TYPE_ID)) {
            assertThat(updates(storage, session, type)).as(type).extracting(StethoscopeRecord::getEpoch).contains(1);
        }
        assertThat(updates(storage, session, Health.TYPE_ID)).filteredOn(r -> r.payload(Health.class).source().equals("probe-batch"))
                .extracting(StethoscopeRecord::getEpoch).contains(0, 1);
        assertThat(types).doesNotContain(ExampleLogits.TYPE_ID);
        assertThat(updates(storage, session, dev.stethoscope.listeners.records.MonitorError.TYPE_ID))
                .as("no monitor failed").isEmpty();
        assertThat(graph.getEpochCount()).isEqualTo(2);
        graphFeatureSnapshotsAreTheAveragedGraphsTopExamples(storage, session, graph, examples);
    }

    /**
     * Feature evolution on the driver of a SparkComputationGraph: snapshots of both epochs for the tracked
     * layers, and the last one's top-k of every unit are the examples (by id) on which the final averaged
     * graph activates that unit most, with those activation values.
     */
    private static void graphFeatureSnapshotsAreTheAveragedGraphsTopExamples(InMemoryStatsStorage storage, String session,
            org.deeplearning4j.nn.graph.ComputationGraph graph, List<DataSet> examples) {
        List<StethoscopeRecord> snaps = updates(storage, session, FeatureSnapshot.TYPE_ID);
        assertThat(snaps).as("feature snapshots of the graph").isNotEmpty();
        assertThat(snaps).extracting(StethoscopeRecord::getEpoch).contains(0, 1);
        org.nd4j.linalg.api.ndarray.INDArray all = SparkTestData.merged(examples).getFeatures();
        java.util.Map<String, org.nd4j.linalg.api.ndarray.INDArray> acts = graph.feedForward(all, false);
        Set<String> layersAtLastEpoch = new TreeSet<>();
        for (StethoscopeRecord r : snaps) {
            if (r.getEpoch() != 1) {
                continue;
            }
            FeatureSnapshot f = r.payload(FeatureSnapshot.class);
            layersAtLastEpoch.add(f.layerName());
            org.nd4j.linalg.api.ndarray.INDArray a = acts.get(f.layerName());
            assertThat(a).as("activations of vertex %s", f.layerName()).isNotNull();
            assertThat(f.units()).as("units of %s", f.layerName()).isNotEmpty();
            for (FeatureSnapshot.FeatureUnit u : f.units()) {
                assertThat(u.examples()).as("top-k of %s unit %d", f.layerName(), u.unit()).isNotEmpty();
                double[] column = a.getColumn(u.unit()).toDoubleVector();
                double[] sorted = column.clone();
                java.util.Arrays.sort(sorted);
                for (int j = 0; j < u.examples().length; j++) {
                    long id = u.examples()[j];
                    assertThat(id).as("example id").isBetween(0L, (long) N - 1);
                    assertThat(u.values()[j]).as("%s unit %d entry %d: the averaged graph's activation on example %d",
                            f.layerName(), u.unit(), j, id).isCloseTo(column[(int) id], org.assertj.core.data.Offset.offset(1e-4));
                    assertThat(u.values()[j]).as("%s unit %d entry %d: the %d-th largest activation", f.layerName(),
                            u.unit(), j, j + 1).isCloseTo(sorted[sorted.length - 1 - j], org.assertj.core.data.Offset.offset(1e-4));
                }
            }
        }
        assertThat(layersAtLastEpoch).as("layers snapshotted at the last epoch").isNotEmpty();
    }

    /** One worker, one round an epoch: a SparkComputationGraph's merged dynamics equal a one-JVM graph run's. */
    @Test
    void graphMergedDynamicsEqualThoseOfAOneJvmRun() {
        List<DataSet> examples = SparkTestData.blobs(N, 4);
        org.deeplearning4j.nn.graph.ComputationGraph sparkSide = SparkTestData.graph(16, 5);
        org.deeplearning4j.nn.graph.ComputationGraph oneJvm = sparkSide.clone();
        List<DataSet> batches = SparkTestData.indexedBatches(examples, BATCH);
        org.deeplearning4j.spark.impl.graph.SparkComputationGraph sparkNet =
                new org.deeplearning4j.spark.impl.graph.SparkComputationGraph(sc, sparkSide, master(1, N / BATCH));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(N).async(false)
                .attach(sparkNet, storage);
        fitTwoEpochs(s, sc.parallelize(batches, 1));
        TrainingDynamicsListener reference = TrainingDynamicsListener.builder(oneJvm, new InMemoryStatsStorage())
                .numExamples(N).async(false).build();
        reference.attach();
        oneJvm.fit(reference.track(new ListDataSetIterator<>(batches, 1)), 2); // one element = one minibatch
        reference.close();

        assertThat(sparkSide.params().equalsWithEps(oneJvm.params(), 1e-6)).as("same training").isTrue();
        assertSameDynamicsOverTwoEpochs(s.dynamics().dynamics(), reference.dynamics());
    }

    /**
     * A user's storage that notes, at each delivery of worker health records (one per averaging round),
     * the driver network's epoch and iteration counts at that moment and the records delivered.
     */
    private static final class DeliveryLog implements org.deeplearning4j.core.storage.StatsStorageRouter {
        record Delivery(int driverEpoch, long driverIteration, List<StethoscopeRecord> health) {
        }

        final InMemoryStatsStorage storage = new InMemoryStatsStorage();
        final List<Delivery> deliveries = new ArrayList<>();
        private final Model driver;

        DeliveryLog(Model driver) {
            this.driver = driver;
        }

        @Override
        public void putStorageMetaData(org.deeplearning4j.core.storage.StorageMetaData m) {
            storage.putStorageMetaData(m);
        }

        @Override
        public void putStorageMetaData(java.util.Collection<? extends org.deeplearning4j.core.storage.StorageMetaData> m) {
            storage.putStorageMetaData(m);
        }

        @Override
        public void putStaticInfo(Persistable p) {
            storage.putStaticInfo(p);
        }

        @Override
        public void putStaticInfo(java.util.Collection<? extends Persistable> p) {
            storage.putStaticInfo(p);
        }

        @Override
        public void putUpdate(Persistable p) {
            putUpdate(List.of(p));
        }

        @Override
        public synchronized void putUpdate(java.util.Collection<? extends Persistable> ps) {
            List<StethoscopeRecord> health = new ArrayList<>();
            for (Persistable p : ps) {
                if (p instanceof StethoscopeRecord r && r.holds(Health.class)
                        && r.payload(Health.class).source().equals("train-batch")) {
                    health.add(r);
                }
            }
            if (!health.isEmpty()) {
                int epoch = driver instanceof MultiLayerNetwork m ? m.getEpochCount()
                        : ((org.deeplearning4j.nn.graph.ComputationGraph) driver).getEpochCount();
                long iteration = driver instanceof MultiLayerNetwork m ? m.getIterationCount()
                        : ((org.deeplearning4j.nn.graph.ComputationGraph) driver).getConfiguration().getIterationCount();
                deliveries.add(new Delivery(epoch, iteration, health));
            }
            storage.putUpdate(ps);
        }
    }

    /**
     * Issue #16: a SparkComputationGraph's worker graphs start every averaging round at iteration 0,
     * epoch 0 (DL4J's configuration clone drops the counts). Their health records must carry the
     * driver's epoch of the round and global iterations, strictly increasing per worker across rounds
     * and epochs, as a SparkDl4jMultiLayer's workers report them (the control below).
     */
    @Test
    void graphWorkerRecordsCarryTheDriversEpochAndGlobalIterations() {
        List<DataSet> examples = SparkTestData.blobs(N, 1);
        org.deeplearning4j.nn.graph.ComputationGraph graph = SparkTestData.graph(16, 3);
        int averagingFrequency = 2;
        // each RDD element is one minibatch of BATCH examples: a round is 2 workers x 2 of them, so an
        // epoch of 15 minibatches takes several rounds
        ParameterAveragingTrainingMaster tm = new ParameterAveragingTrainingMaster.Builder(BATCH)
                .batchSizePerWorker(BATCH).averagingFrequency(averagingFrequency).workerPrefetchNumBatches(0)
                .rddTrainingApproach(RDDTrainingApproach.Direct).repartionData(Repartition.Never).build();
        org.deeplearning4j.spark.impl.graph.SparkComputationGraph sparkNet =
                new org.deeplearning4j.spark.impl.graph.SparkComputationGraph(sc, graph, tm);
        JavaRDD<DataSet> train = sc.parallelize(SparkTestData.indexedBatches(examples, BATCH), 2);
        DeliveryLog log = new DeliveryLog(graph);
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(N).async(false)
                .workerSchedule(dev.stethoscope.listeners.core.Schedule.iterations(1))
                .tuneAssertions(b -> b.assertThat("always", w -> Severity.WARNING))
                .attach(sparkNet, log);
        try {
            s.fit(train);
            s.fit(train);
        } finally {
            s.close();
        }
        workerRecordsCarryTheDriversCounts(log, averagingFrequency, graph.getIterationCount());
        // the assertion findings of the workers (a "step" range each) moved to the same global iterations
        List<StethoscopeRecord> findings = updates(log.storage, s.dynamics().sessionId(), AssertionFinding.TYPE_ID);
        assertThat(findings).filteredOn(r -> r.payload(AssertionFinding.class).unit().equals("step"))
                .as("step findings of the workers").isNotEmpty()
                .allSatisfy(r -> assertThat(r.payload(AssertionFinding.class).to())
                        .as("the step range of %s ends at its record's iteration", r).isEqualTo(r.getIteration()))
                .anySatisfy(r -> assertThat(r.getEpoch()).isEqualTo(1));
    }

    /** The control: a SparkDl4jMultiLayer's workers report the driver's counts by themselves. */
    @Test
    void multiLayerWorkerRecordsCarryTheDriversEpochAndGlobalIterations() {
        List<DataSet> examples = SparkTestData.blobs(N, 1);
        MultiLayerNetwork net = SparkTestData.mlp(16, 3);
        int averagingFrequency = 2;
        SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, master(null, averagingFrequency));
        JavaRDD<DataSet> train = StethoscopeSpark.indexExamples(sc.parallelize(examples, 2));
        DeliveryLog log = new DeliveryLog(net);
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(N).async(false)
                .workerSchedule(dev.stethoscope.listeners.core.Schedule.iterations(1)).attach(sparkNet, log);
        try {
            s.fit(train);
            s.fit(train);
        } finally {
            s.close();
        }
        workerRecordsCarryTheDriversCounts(log, averagingFrequency, net.getIterationCount());
    }

    private static void workerRecordsCarryTheDriversCounts(DeliveryLog log, int averagingFrequency, long finalIteration) {
        System.out.println("deliveries (driver epoch, driver iteration, worker health iterations): " + log.deliveries.stream()
                .map(d -> d.driverEpoch() + "," + d.driverIteration() + ":" + d.health().stream()
                        .map(r -> r.getWorkerID().substring(r.getWorkerID().indexOf('_')) + "@" + r.getEpoch() + "/" + r.getIteration())
                        .toList()).toList());
        Set<Integer> epochs = new TreeSet<>();
        java.util.Map<Integer, Integer> roundsPerEpoch = new java.util.TreeMap<>();
        java.util.Map<String, List<Long>> byWorker = new java.util.TreeMap<>();
        for (DeliveryLog.Delivery d : log.deliveries) {
            epochs.add(d.driverEpoch());
            roundsPerEpoch.merge(d.driverEpoch(), 1, Integer::sum);
            for (StethoscopeRecord r : d.health()) {
                assertThat(r.getWorkerID()).doesNotStartWith("0/");
                assertThat(r.getEpoch()).as("epoch of %s", r).isEqualTo(d.driverEpoch());
                // the round began at the driver's iteration count (DL4J advances it after the delivery)
                assertThat(r.getIteration()).as("iteration of %s in the round from %d", r, d.driverIteration())
                        .isBetween(d.driverIteration(), d.driverIteration() + averagingFrequency - 1);
                byWorker.computeIfAbsent(r.getWorkerID(), w -> new ArrayList<>()).add(r.getIteration());
            }
        }
        assertThat(epochs).as("deliveries in both epochs").containsExactly(0, 1);
        assertThat(roundsPerEpoch.values()).as("several averaging rounds an epoch").allMatch(n -> n >= 2);
        assertThat(byWorker).as("health from two workers").hasSizeGreaterThanOrEqualTo(2);
        for (var e : byWorker.entrySet()) {
            // in delivery order, then as each worker published them
            assertThat(e.getValue()).as("iterations of worker %s", e.getKey()).isSorted().doesNotHaveDuplicates();
            assertThat(e.getValue().get(e.getValue().size() - 1)).isLessThan(finalIteration);
        }
    }

    private static Set<String> workerIdsOtherThanDriver(Set<String> ids) {
        Set<String> out = new TreeSet<>();
        for (String w : ids) {
            String worker = w.substring(0, w.lastIndexOf('/'));
            if (!worker.equals("0")) {
                out.add(worker);
            }
        }
        return out;
    }

    /**
     * With one worker, one partition in order and no repartitioning, DL4J's Spark training fits the
     * same batches in the same order as one JVM: the merged per-example dynamics equal those of a
     * TrainingDynamicsListener on a one-JVM run.
     */
    @Test
    void mergedDynamicsEqualThoseOfAOneJvmRunOverTheSameBatches() {
        List<DataSet> examples = SparkTestData.blobs(N, 4);
        MultiLayerNetwork sparkSide = SparkTestData.mlp(16, 5);
        MultiLayerNetwork oneJvm = sparkSide.clone();
        int rounds = N / BATCH; // one averaging round per epoch: nothing is averaged away
        SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, sparkSide, master(1, rounds));
        JavaRDD<DataSet> train = StethoscopeSpark.indexExamples(sc.parallelize(examples, 1));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(N).async(false)
                .attach(sparkNet, storage);
        fitTwoEpochs(s, train);

        List<DataSet> indexed = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            DataSet one = examples.get(i).copy();
            ExampleIndex.attach(one, new long[]{i});
            indexed.add(one);
        }
        InMemoryStatsStorage storage2 = new InMemoryStatsStorage();
        TrainingDynamicsListener reference = TrainingDynamicsListener.builder(oneJvm, storage2).numExamples(N).async(false).build();
        reference.attach();
        oneJvm.fit(reference.track(new ListDataSetIterator<>(indexed, BATCH)), 2);
        reference.close();

        assertThat(sparkSide.params().equalsWithEps(oneJvm.params(), 1e-6))
                .as("same training: the Spark run's parameters equal the one-JVM run's").isTrue();
        assertSameDynamicsOverTwoEpochs(s.dynamics().dynamics(), reference.dynamics());
    }

    /**
     * Two workers, {@code averagingFrequency(1)}, plain SGD: DL4J's average of the two workers' steps, each on
     * one minibatch, is one SGD step on both minibatches together (the mean of the two gradients). With two
     * minibatches an epoch (one round), a {@code local[2]} run trains exactly as one JVM on their union, and the
     * per-example dynamics merged from both workers equal those of the one-JVM listener: the equivalence
     * docs/spark.md uses for the suspect-ranking criterion. (One worker getting both minibatches would fit
     * only one of them, and the parameters would differ.)
     */
    @Test
    void twoWorkersAveragingEveryMinibatchTrainAsOneJvmOnTheDoubleBatch() {
        int n = 2 * BATCH;
        List<DataSet> examples = SparkTestData.blobs(n, 8);
        MultiLayerNetwork sparkSide = SparkTestData.mlp(16, 9);
        MultiLayerNetwork oneJvm = sparkSide.clone();
        org.nd4j.linalg.api.ndarray.INDArray initial = sparkSide.params().dup();
        SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, sparkSide, master(2, 1));
        JavaRDD<DataSet> train = StethoscopeSpark.indexExamples(sc.parallelize(examples, 2));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(n).async(false)
                .attach(sparkNet, storage);
        try {
            for (int e = 0; e < 3; e++) {
                s.fit(train);
            }
        } finally {
            s.close();
        }
        assertThat(dynamicsWorkers(s)).as("logits from both workers").hasSizeGreaterThanOrEqualTo(2);

        List<DataSet> indexed = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            DataSet one = examples.get(i).copy();
            ExampleIndex.attach(one, new long[]{i});
            indexed.add(one);
        }
        TrainingDynamicsListener reference = TrainingDynamicsListener.builder(oneJvm, new InMemoryStatsStorage())
                .numExamples(n).async(false).build();
        reference.attach();
        oneJvm.fit(reference.track(new ListDataSetIterator<>(indexed, n)), 3); // one minibatch of 2 x BATCH an epoch
        reference.close();

        assertThat(sparkSide.params().equalsWithEps(oneJvm.params(), 1e-5))
                .as("averaging two SGD steps on %d examples each = one SGD step on all %d", BATCH, n).isTrue();
        assertThat(sparkSide.params().equalsWithEps(initial, 1e-3)).as("the parameters moved").isFalse();
        TrainingDynamics a = s.dynamics().dynamics();
        TrainingDynamics b = reference.dynamics();
        for (int i = 0; i < n; i++) {
            assertThat(a.count(i)).isEqualTo(b.count(i)).isEqualTo(3);
            assertThat(a.aum(i)).as("AUM of %d", i).isCloseTo(b.aum(i), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(a.meanLoss(i)).isCloseTo(b.meanLoss(i), org.assertj.core.data.Offset.offset(1e-5));
            assertThat(a.forgettingEvents(i)).isEqualTo(b.forgettingEvents(i));
            assertThat(a.predictedLabel(i)).isEqualTo(b.predictedLabel(i));
        }
    }

    /**
     * What Spark ships to every task (the training worker: broadcast handle, hooks, listeners) holds
     * no network: its object graph has no Model or Layer, and its size does not grow with the
     * network's (the same for 20x512 and 20x4096 hidden weights, far below the larger one's
     * parameters).
     */
    @Test
    void whatIsShippedToTheWorkersNeverHoldsTheDriversNetwork() throws Exception {
        java.util.Map<String, Long> small = shippedSizes(512);
        java.util.Map<String, Long> large = shippedSizes(4096);
        long largeParamBytes = SparkTestData.mlp(4096, 6).numParams() * 4;
        assertThat(large.keySet()).isEqualTo(small.keySet()).contains("worker instance");
        for (String k : small.keySet()) {
            assertThat(large.get(k)).as(k + ": serialised size with 8x the parameters")
                    .isBetween(small.get(k) - 256, small.get(k) + 256);
            assertThat(large.get(k)).as(k + " serialised size").isLessThan(largeParamBytes / 10);
        }
    }

    /** Serialised sizes of each worker listener and of the worker instance, checking that none holds a network. */
    private java.util.Map<String, Long> shippedSizes(int hidden) throws Exception {
        MultiLayerNetwork net = SparkTestData.mlp(hidden, 6);
        SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net, master(null, 1));
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.ECONOMY).numExamples(N).assertions(true)
                .attach(sparkNet, storage);
        java.util.Map<String, Long> out = new java.util.TreeMap<>();
        try {
            for (StethoscopeListener l : s.workerListeners()) {
                byte[] bytes = serialise(l);
                Set<Class<?>> classes = classesIn(bytes);
                assertThat(classes).as(l.monitorName()).noneMatch(c -> Model.class.isAssignableFrom(c) || Layer.class.isAssignableFrom(c));
                out.put(l.monitorName(), (long) bytes.length);
            }
            ParameterAveragingTrainingMaster m = (ParameterAveragingTrainingMaster) sparkNet.getTrainingMaster();
            byte[] shipped = serialise(m.getWorkerInstance(sparkNet));
            Set<Class<?>> classes = classesIn(shipped);
            assertThat(classes).contains(WorkerDynamicsListener.class, BatchHook.class);
            assertThat(classes).noneMatch(c -> Model.class.isAssignableFrom(c) || Layer.class.isAssignableFrom(c));
            out.put("worker instance", (long) shipped.length);
        } finally {
            s.close();
        }
        return out;
    }

    private static byte[] serialise(Object o) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(o);
        }
        return bytes.toByteArray();
    }

    /** Every class in the serialised object graph (read back with a filter that records them). */
    private static Set<Class<?>> classesIn(byte[] bytes) throws Exception {
        Set<Class<?>> seen = new HashSet<>();
        try (ObjectInputStream in = new ObjectInputStream(new ByteArrayInputStream(bytes))) {
            in.setObjectInputFilter(info -> {
                if (info.serialClass() != null) {
                    seen.add(info.serialClass());
                }
                return ObjectInputFilter.Status.UNDECIDED;
            });
            in.readObject();
        }
        return seen;
    }
}
