package dev.stethoscope.spark;

import dev.stethoscope.listeners.Stethoscope;
import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import dev.stethoscope.listeners.health.HealthListener;
import org.apache.spark.api.java.JavaRDD;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.TrainingListener;
import org.deeplearning4j.spark.api.TrainingMaster;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import scala.Tuple2;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * Stethoscope on DL4J's Spark training ({@link SparkDl4jMultiLayer}, {@link SparkComputationGraph}
 * with {@code ParameterAveragingTrainingMaster}).
 *
 * <p><b>Two sides.</b> On the <i>workers</i>, every minibatch: layer health of the training batch
 * ({@link HealthListener}), the per-example logits of the training pass for the suspects monitor
 * ({@link WorkerDynamicsListener}) and, when asked for, model assertions over the training signals
 * ({@link AssertionListener}). DL4J serialises these listeners to every task (they hold no network:
 * each callback's model is the worker's own) and brings their records back to the driver once per
 * averaging round; each record keeps the id of the worker that wrote it. On the <i>driver</i>,
 * after each epoch ({@link #fit}): the preset's epoch analyses of the averaged network (probes,
 * similarity, memorisation, attributions, feature evolution, health of the probe batch), by the
 * same listeners as in one JVM, and the suspects ranking over the merged per-example dynamics
 * (the workers' batches merged by example id into one {@link TrainingDynamicsListener}). The
 * feature-evolution monitor, which in one JVM follows the training passes of its epochs, gets one
 * inference pass of the {@link Setup#training training} iterator through the averaged network at
 * each of its epochs instead.
 *
 * <pre>{@code
 * SparkDl4jMultiLayer sparkNet = new SparkDl4jMultiLayer(sc, net,
 *         new ParameterAveragingTrainingMaster.Builder(batchSize).batchSizePerWorker(batchSize)
 *                 .averagingFrequency(5).rddTrainingApproach(RDDTrainingApproach.Direct).build());
 * JavaRDD<DataSet> train = StethoscopeSpark.indexExamples(sc.parallelize(batches));  // example ids
 * try (StethoscopeSpark s = StethoscopeSpark.preset(Stethoscope.Preset.BUSINESS)
 *         .numExamples(n).probeData(heldOut).training(trainIter).validation(testIter).totalEpochs(epochs)
 *         .attach(sparkNet, storage)) {
 *     for (int e = 0; e < epochs; e++) {
 *         s.fit(train);                   // sparkNet.fit(train), then the driver's epoch analyses
 *     }
 * }
 * }</pre>
 *
 * <p><b>Example ids</b> travel with the data: each example of the training RDD carries a
 * {@code RecordMetaDataIndex} in its DataSet's metadata ({@link #indexExamples} adds them), and
 * the training master must hand the DataSets to the workers as they are
 * ({@code RDDTrainingApproach.Direct}; exported batches lose their metadata).
 *
 * <p><b>What differs from one JVM.</b> Workers get no epoch callbacks, and a fresh copy of each
 * listener every averaging round, so the worker-side monitors keep no state across rounds (the
 * assertions' windows span one round); the memorisation monitor's loss sensitivity between epochs
 * (an iteration schedule) does not run on Spark: its epoch analyses do. Only
 * {@code ParameterAveragingTrainingMaster} brings records back to the driver; with
 * {@code SharedTrainingMaster} the workers' records only leave through a network router
 * (docs/spark.md).
 *
 * <p><b>Epoch and iteration of the workers' records</b> are those of the driver's network: the epoch
 * being trained and the global iteration (the driver's iteration count when the averaging round
 * began plus the minibatch's position in the worker's round). A {@code MultiLayerNetwork}'s workers
 * report these themselves; a {@code ComputationGraph}'s workers count from 0 every round (DL4J's
 * configuration clone drops the counts), so their records are re-stamped on the driver as each
 * round's records arrive, the training left alone. DL4J advances the driver's iteration count by
 * {@code averagingFrequency} a round, whatever the workers fitted, so the iterations of consecutive
 * rounds may leave gaps.
 */
public final class StethoscopeSpark implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StethoscopeSpark.class);

    private final SparkDl4jMultiLayer sparkNet;
    private final SparkComputationGraph sparkGraph;
    private final Model driverNet;
    private final Stethoscope driver;
    private final TrainingDynamicsListener dynamics;
    private final List<StethoscopeListener> workerListeners;
    private final MergingRouter router;
    private final BatchHook hook = new BatchHook();
    private final TrainingMaster<?, ?> master;
    private final Map<String, String> skipped;
    /** Training data on the driver (feature evolution streams it at its epochs), or null. */
    private final DataSetIterator training;
    /** The epoch (0-based) the workers' batches arriving now belong to. */
    private volatile int epoch;
    private boolean closed;

    private StethoscopeSpark(SparkDl4jMultiLayer sparkNet, SparkComputationGraph sparkGraph, Model driverNet,
                             Stethoscope driver, TrainingDynamicsListener dynamics,
                             List<StethoscopeListener> workerListeners, MergingRouter router,
                             Map<String, String> skipped, DataSetIterator training) {
        this.training = training;
        this.sparkNet = sparkNet;
        this.sparkGraph = sparkGraph;
        this.driverNet = driverNet;
        this.driver = driver;
        this.dynamics = dynamics;
        this.workerListeners = Collections.unmodifiableList(workerListeners);
        this.router = router;
        this.skipped = Collections.unmodifiableMap(skipped);
        this.master = sparkNet != null ? sparkNet.getTrainingMaster() : sparkGraph.getTrainingMaster();
    }

    /** The configuration of a preset (as {@link Stethoscope#preset}); give it data, then attach. */
    public static Setup preset(Stethoscope.Preset preset) {
        return new Setup(Stethoscope.preset(Objects.requireNonNull(preset, "preset")));
    }

    /**
     * The configuration of an existing one-JVM setup (its preset, data and {@code tune} changes; the
     * changes for {@link HealthListener.Builder} and {@link TrainingDynamicsListener.Builder} apply to
     * the Spark side's health and suspects monitors too). Give {@link Setup#numExamples} here as well.
     * The setup is changed: its training-dynamics monitor is left out (the Spark side builds its own).
     */
    public static Setup of(Stethoscope.Setup setup) {
        return new Setup(Objects.requireNonNull(setup, "setup"));
    }

    /**
     * One example per DataSet, each carrying its stable id (its position in {@code data}, counted
     * over the examples of every DataSet in partition order) as {@code RecordMetaDataIndex}
     * metadata, unless it carries an id already. The ids must name the same examples in every
     * epoch: {@code data} must be deterministic (a parallelised list, files read in a fixed order).
     * Do not {@code cache()} the result yourself: DL4J's training master persists the RDD it trains
     * on with its own storage level (Spark refuses a second level). The workers batch the examples
     * again ({@code batchSizePerWorker}).
     */
    public static JavaRDD<DataSet> indexExamples(JavaRDD<DataSet> data) {
        return data.flatMap(ds -> {
            List<DataSet> rows = ds.asList();
            boolean has = ExampleIndex.hasIndices(ds);
            long[] ids = has ? ExampleIndex.indicesOf(ds) : null;
            for (int i = 0; i < rows.size(); i++) {
                if (has) {
                    ExampleIndex.attach(rows.get(i), new long[]{ids[i]});
                }
            }
            return rows.iterator();
        }).zipWithIndex().map((Tuple2<DataSet, Long> t) -> {
            DataSet ds = t._1();
            if (!ExampleIndex.hasIndices(ds)) {
                ExampleIndex.attach(ds, new long[]{t._2()});
            }
            return ds;
        });
    }

    /**
     * The DataSets as the single-input single-output MultiDataSets a {@link SparkComputationGraph} trains
     * on, each keeping its examples' metadata (DL4J's own conversion in {@code SparkComputationGraph.fit}
     * drops it). On the workers DL4J passes an element that is exactly one minibatch
     * ({@code batchSizePerWorker} rows) through unchanged and merges or splits others without their
     * metadata, so give minibatches, not single examples.
     */
    public static JavaRDD<org.nd4j.linalg.dataset.api.MultiDataSet> toMultiDataSets(JavaRDD<DataSet> data) {
        return data.map(ds -> {
            org.nd4j.linalg.dataset.api.MultiDataSet m =
                    org.deeplearning4j.nn.graph.util.ComputationGraphUtil.toMultiDataSet(ds);
            if (ds.getExampleMetaData() != null) {
                m.setExampleMetaData(ds.getExampleMetaData());
            }
            return m;
        });
    }

    /** The monitors' driver side (epoch analyses of the averaged network). */
    public Stethoscope driver() {
        return driver;
    }

    /** The driver's training-dynamics monitor, fed with the workers' batches; null when not attached. */
    public TrainingDynamicsListener dynamics() {
        return dynamics;
    }

    /** The listeners shipped to the workers (copies of these run there). */
    public List<StethoscopeListener> workerListeners() {
        return workerListeners;
    }

    /** Monitors left out because they do not support the network (name to reason). */
    public Map<String, String> skipped() {
        return skipped;
    }

    /** Records received from the workers so far, per worker id ({@code <worker>/<monitor>}). */
    public Map<String, Integer> recordsByWorker() {
        return router.updatesByWorker();
    }

    /**
     * With {@code -Dstethoscope.cpuAccounting=true}: the mean bytes of Java serialisation of one
     * delivery's worker records (what each round sends back to the driver, measured on the driver); -1
     * when the accounting is off or nothing arrived yet.
     */
    public static double serialisedBytesPerDelivery() {
        return MergingRouter.serialisedBytesPerDelivery();
    }

    /** Number of worker records in each delivery to the driver (DL4J delivers once per averaging round). */
    public List<Integer> recordsPerDelivery() {
        return router.updatesPerDelivery();
    }

    /**
     * One epoch: {@code fit(data)} of the Spark network, the workers' batches merged as they arrive,
     * then the driver's epoch analyses of the averaged network (and the suspects ranking) with the
     * epoch just trained. A {@link SparkComputationGraph} is fitted on {@link #toMultiDataSets}{@code (data)}
     * (so the examples keep their ids): each element of {@code data} must then be one minibatch of
     * {@code batchSizePerWorker} examples.
     */
    public void fit(JavaRDD<DataSet> data) {
        if (closed) {
            throw new IllegalStateException("This StethoscopeSpark handle is closed");
        }
        int e = epochCount();
        epoch = e;
        for (StethoscopeListener m : driverMonitors()) {
            m.onEpochStart(driverNet);
        }
        if (sparkNet != null) {
            sparkNet.fit(data);
        } else {
            sparkGraph.fitMultiDataSet(toMultiDataSets(data));
        }
        streamFeatures();
        // DL4J's Spark fit has already counted the epoch; the listeners expect the finished epoch's
        // number during onEpochEnd (as in MultiLayerNetwork.fit), so it is set back for the callbacks
        int after = epochCount();
        setEpochCount(e);
        try {
            for (StethoscopeListener m : driverMonitors()) {
                m.onEpochEnd(driverNet);
            }
        } finally {
            setEpochCount(Math.max(after, e + 1));
        }
    }

    /**
     * The feature-evolution monitor follows the top-activating training examples of its scheduled
     * epochs from the training passes, which happen on the workers; on the driver the training
     * iterator is passed once through the averaged network (inference mode) instead, before the
     * epoch's snapshot: a MultiLayerNetwork's layer activations as a list, a ComputationGraph's as
     * a map by vertex name (the two forms of DL4J's {@code onForwardPass}).
     */
    private void streamFeatures() {
        FeatureEvolutionListener fe = driver.monitor(FeatureEvolutionListener.class);
        if (fe == null || !fe.streaming() || training == null) {
            return;
        }
        DataSetIterator it = fe.track(training);
        it.reset();
        while (it.hasNext()) {
            DataSet ds = it.next();
            if (driverNet instanceof MultiLayerNetwork mln) {
                List<INDArray> acts = mln.feedForward(ds.getFeatures(), false);
                fe.onForwardPass(mln, acts.subList(0, acts.size() - 1)); // as DL4J: input and every layer but the output
            } else {
                ComputationGraph g = (ComputationGraph) driverNet;
                // every vertex by name, the network input included (DL4J's training pass leaves the output
                // layer out; the monitor never tracks it)
                Map<String, INDArray> acts = g.feedForward(ds.getFeatures(), false);
                fe.onForwardPass(g, acts);
            }
        }
        it.reset();
    }

    private List<StethoscopeListener> driverMonitors() {
        List<StethoscopeListener> all = new ArrayList<>(driver.monitors());
        if (dynamics != null) {
            all.add(dynamics);
        }
        return all;
    }

    private int epochCount() {
        return driverNet instanceof MultiLayerNetwork m ? m.getEpochCount() : ((ComputationGraph) driverNet).getEpochCount();
    }

    private void setEpochCount(int n) {
        if (driverNet instanceof MultiLayerNetwork m) {
            m.setEpochCount(n);
        } else {
            ((ComputationGraph) driverNet).getConfiguration().setEpochCount(n);
        }
    }

    /** A batch of a worker: into the driver's dynamics, with the current epoch. */
    private void merge(String worker, ExampleLogits b) {
        if (dynamics != null) {
            dynamics.observeBatch(b.ids(), b.logits(), b.labels(), null, epoch);
        }
    }

    /**
     * Removes the worker listeners and the hook from the training master, then closes the driver's
     * monitors (the last analyses are published). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            master.removeHook(hook);
            if (sparkNet != null) {
                sparkNet.setListeners(Collections.<TrainingListener>emptyList());
            } else {
                sparkGraph.setListeners(Collections.<TrainingListener>emptyList());
            }
        } catch (RuntimeException e) {
            log.warn("Could not remove Stethoscope's listeners from the Spark training master", e);
        }
        try {
            if (dynamics != null) {
                dynamics.close();
            }
        } finally {
            driver.close();
        }
    }

    /** A preset with its data; {@link #attach} builds both sides. */
    public static final class Setup {
        private final Stethoscope.Preset preset;
        private final Stethoscope.Setup driverSetup;
        private final boolean withDynamics;
        private final boolean withHealth;
        private int numExamples = -1;
        private DataSetIterator training;
        private boolean assertions;
        private boolean keepWorkerBatches;
        private Schedule workerSchedule = Schedule.iterations(10);
        private final List<Consumer<TrainingDynamicsListener.Builder>> dynamicsTuning = new ArrayList<>();
        private final List<Consumer<AssertionListener.Builder>> assertionTuning = new ArrayList<>();

        private Setup(Stethoscope.Setup setup) {
            this.preset = setup.preset();
            this.withDynamics = !setup.excludes(TrainingDynamicsListener.Builder.class);
            this.withHealth = !setup.excludes(HealthListener.Builder.class);
            this.driverSetup = setup.without(TrainingDynamicsListener.Builder.class);
            this.training = setup.training();
        }

        /** Number of training examples (ids lie in [0, n)), for the suspects monitor. Required. */
        public Setup numExamples(int n) {
            if (n < 1) {
                throw new IllegalArgumentException("numExamples must be >= 1, got " + n);
            }
            this.numExamples = n;
            return this;
        }

        /** Labelled held-out examples for the driver's probes, similarity, health probe batch and attributions. */
        public Setup probeData(DataSet heldOut) {
            driverSetup.probeData(heldOut);
            return this;
        }

        /**
         * Training data (an iterator on the driver, unshuffled, unaugmented; a subset will do) for the
         * memorisation monitor and, with FULL, the feature-evolution monitor's top-activating examples.
         */
        public Setup training(DataSetIterator data) {
            driverSetup.training(data);
            this.training = data;
            return this;
        }

        /** Validation data (an iterator on the driver) for the memorisation monitor. */
        public Setup validation(DataSetIterator data) {
            driverSetup.validation(data);
            return this;
        }

        /** Epochs of the run, so the epoch analyses include the last one. */
        public Setup totalEpochs(int n) {
            driverSetup.totalEpochs(n);
            return this;
        }

        /** Driver analyses on a background thread (default) or inside {@link #fit}. */
        public Setup async(boolean async) {
            driverSetup.async(async);
            return this;
        }

        /** Adjusts a driver-side monitor's builder (as {@link Stethoscope.Setup#tune}). */
        public <B extends StethoscopeListener.Builder<?, ?>> Setup tune(Class<B> type, Consumer<? super B> change) {
            driverSetup.tune(type, change);
            return this;
        }

        /** Adjusts the driver's training-dynamics builder (flipped indices, top K, example source, ...). */
        public Setup tuneDynamics(Consumer<TrainingDynamicsListener.Builder> change) {
            dynamicsTuning.add(Objects.requireNonNull(change, "change"));
            return this;
        }

        /** Leaves out a driver-side monitor of the preset. */
        public Setup without(Class<? extends StethoscopeListener.Builder<?, ?>> type) {
            driverSetup.without(type);
            return this;
        }

        /** Also runs model assertions on the workers (default off, as in the one-JVM presets). */
        public Setup assertions(boolean on) {
            this.assertions = on;
            return this;
        }

        /** Adjusts the workers' assertion builder (implies {@code assertions(true)}). */
        public Setup tuneAssertions(Consumer<AssertionListener.Builder> change) {
            assertionTuning.add(Objects.requireNonNull(change, "change"));
            this.assertions = true;
            return this;
        }

        /**
         * When the workers sample health (default {@code Schedule.iterations(10)}; iterations or never);
         * a {@code tune(HealthListener.Builder.class, ...)} change of the schedule wins.
         */
        public Setup workerSchedule(Schedule s) {
            this.workerSchedule = Objects.requireNonNull(s, "schedule");
            return this;
        }

        /**
         * Also store the workers' per-batch logits ({@link ExampleLogits}) in the storage (default
         * false: they are merged on the driver and dropped; they hold every example's logits each epoch).
         */
        public Setup keepWorkerBatches(boolean keep) {
            this.keepWorkerBatches = keep;
            return this;
        }

        /** Attaches to a {@link SparkDl4jMultiLayer}. */
        public StethoscopeSpark attach(SparkDl4jMultiLayer sparkNet, StatsStorageRouter storage) {
            Objects.requireNonNull(sparkNet, "sparkNet");
            return attach(sparkNet, null, sparkNet.getNetwork(), sparkNet.getTrainingMaster(), storage);
        }

        /**
         * Attaches to a {@link SparkComputationGraph} with one input and one output (an output layer with
         * one input vertex), as the one-JVM monitors support: health, per-example logits and assertions on
         * the workers, the driver monitors that support graphs (the others are listed in
         * {@link StethoscopeSpark#skipped()}). Train it with {@link StethoscopeSpark#fit}, whose RDD
         * elements must each be one whole minibatch of {@code batchSizePerWorker} examples with their ids
         * (DL4J merges smaller MultiDataSets on the workers without their metadata).
         */
        public StethoscopeSpark attach(SparkComputationGraph sparkNet, StatsStorageRouter storage) {
            Objects.requireNonNull(sparkNet, "sparkNet");
            return attach(null, sparkNet, sparkNet.getNetwork(), sparkNet.getTrainingMaster(), storage);
        }

        private StethoscopeSpark attach(SparkDl4jMultiLayer mln, SparkComputationGraph cg, Model net,
                                        TrainingMaster<?, ?> master, StatsStorageRouter storage) {
            Objects.requireNonNull(storage, "storage");
            Objects.requireNonNull(master, "the Spark network has no training master");
            if (!(master instanceof org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster)) {
                throw new IllegalArgumentException("StethoscopeSpark supports ParameterAveragingTrainingMaster only; got "
                        + master.getClass().getName() + ". Why: with ParameterAveragingTrainingMaster the workers' "
                        + "records come back to the driver with each averaging round, where the suspects monitor "
                        + "merges the per-example logits of every worker; SharedTrainingMaster (gradient sharing) "
                        + "ships the driver's router itself to the workers and brings no record back, so nothing "
                        + "could be merged. Use: ParameterAveragingTrainingMaster with RDDTrainingApproach.Direct; "
                        + "or, to keep SharedTrainingMaster, the one-JVM listeners (HealthListener, ModelAssertions) "
                        + "with a RemoteUIStatsStorageRouter to a UI (no suspects ranking). See docs/spark.md");
            }
            if (numExamples < 1 && withDynamics) {
                throw new IllegalArgumentException("The " + preset.name().toLowerCase(java.util.Locale.ROOT)
                        + " preset on Spark needs: numExamples(n) (training examples, for the training-dynamics "
                        + "monitor)");
            }
            Map<String, String> skipped = new LinkedHashMap<>();
            // worker side: built for the driver's network (configuration checks), never attached to it
            List<StethoscopeListener> workers = new ArrayList<>();
            if (withHealth) {
                HealthListener.Builder hb = HealthListener.builder(net, storage).schedule(workerSchedule);
                workers.add(driverSetup.applyTuning(hb).build());
            }
            TrainingDynamicsListener.Builder dynBuilder = null;
            if (withDynamics) {
                workers.add(WorkerDynamicsListener.builder(net, storage).numExamples(numExamples).build());
                dynBuilder = driverSetup.applyTuning(TrainingDynamicsListener.builder(net, storage).numExamples(numExamples));
                for (Consumer<TrainingDynamicsListener.Builder> c : dynamicsTuning) {
                    c.accept(dynBuilder);
                }
            }
            if (assertions) {
                AssertionListener.Builder ab = ModelAssertions.builder(net, storage);
                for (Consumer<AssertionListener.Builder> c : assertionTuning) {
                    c.accept(ab);
                }
                workers.add(ab.build());
            }
            // driver side: the preset's epoch monitors on the averaged network (no training callbacks
            // reach it: fit() calls their epoch callbacks)
            Stethoscope driver = driverSetup.attachSupported(net, storage);
            skipped.putAll(driver.skipped());
            TrainingDynamicsListener dynamics = null;
            try {
                dynamics = dynBuilder == null ? null : dynBuilder.build();
            } catch (RuntimeException e) {
                driver.close();
                throw e;
            }
            StethoscopeSpark[] self = new StethoscopeSpark[1];
            // a graph's workers count iterations from 0 each round and epoch 0 (DL4J's configuration clone):
            // the router gives their records the driver's epoch and global iterations
            MergingRouter router = new MergingRouter(storage, (w, b) -> self[0].merge(w, b), keepWorkerBatches,
                    cg != null ? (ComputationGraph) net : null);
            for (StethoscopeListener l : workers) {
                // DL4J refuses routing listeners holding a router that is not Serializable, and hands each
                // worker copy a router of its own
                l.setStorageRouter(null);
            }
            StethoscopeSpark s = new StethoscopeSpark(mln, cg, net, driver, dynamics, workers, router, skipped, training);
            self[0] = s;
            master.addHook(s.hook);
            List<TrainingListener> shipped = new ArrayList<>();
            for (StethoscopeListener l : workers) {
                // with -Dstethoscope.cpuAccounting=true each worker monitor's callbacks are timed
                shipped.add(dev.stethoscope.listeners.core.CpuAccounting.enabled() ? new TimedWorkerListener(l) : l);
            }
            if (mln != null) {
                mln.setListeners(router, shipped);
            } else {
                cg.setListeners(router, shipped);
            }
            skipped.forEach((m, why) -> log.warn("Stethoscope monitor '{}' is not attached on Spark: {}", m, why));
            return s;
        }
    }
}
