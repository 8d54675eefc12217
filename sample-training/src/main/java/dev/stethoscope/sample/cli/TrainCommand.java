package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.Stethoscope;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.Sessions;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.features.FeatureEvolutionListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.probes.similarity.ConvMode;
import dev.stethoscope.plugin.StethoscopeUIServer;
import dev.stethoscope.listeners.assertions.AssertionListener;
import dev.stethoscope.listeners.assertions.ModelAssertions;
import dev.stethoscope.sample.ConfigModels;
import dev.stethoscope.sample.ConsoleProgress;
import dev.stethoscope.sample.SparkTraining;
import dev.stethoscope.spark.StethoscopeSpark;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.spark.impl.graph.SparkComputationGraph;
import org.deeplearning4j.spark.impl.multilayer.SparkDl4jMultiLayer;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.stats.StatsListener;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/**
 * The sample: trains an MLP or LeNet on MNIST (or any IDX data) with the
 * Stethoscope monitors attached and the DL4J UI serving the Stethoscope page.
 */
@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train on MNIST (or IDX data) with Stethoscope monitors and the DL4J UI.")
public final class TrainCommand implements Callable<Integer> {
    private static final Logger log = LoggerFactory.getLogger(TrainCommand.class);

    @Option(names = "--model", defaultValue = "mlp", description = "mlp (784-512-10), cnn (LeNet), resnet (a small residual ComputationGraph) or twoview (a ComputationGraph with two inputs, each digit's top and bottom halves: a conv branch per half, merged, conv, dense, softmax); monitors that do not support a model are skipped and listed in skipped-monitors.txt. Default: ${DEFAULT-VALUE}.")
    Models.Kind model;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Train the network of this DL4J configuration JSON (MultiLayerConfiguration.toJson() or "
                    + "ComputationGraphConfiguration.toJson()) instead of --model; its own seed sets the weights. Its input "
                    + "must take the data's flat images (InputType.feedForward(784) or convolutionalFlat(28, 28, 1)) and its "
                    + "output one score per class. Every monitor of the preset that supports the network is attached, "
                    + "plus the assertion monitor; the others are listed in skipped-monitors.txt.")
    Path config;

    @Option(names = "--epochs", defaultValue = "3", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train-limit", defaultValue = "0", description = "Use only the first N training examples (0 = all).")
    int trainLimit;

    @Option(names = "--test-limit", defaultValue = "0", description = "Use only the first N test examples (0 = all).")
    int testLimit;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights, shuffling and label noise (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--label-noise", defaultValue = "0", description = "Flip this fraction of training labels to another class (0..1); the flipped indices are written to the run folder.")
    double labelNoise;

    @Mixin
    DataOptions dataOptions;


    @Option(names = "--out", description = "Run folder (default: runs/<date-time>). A folder that already holds a run is refused unless --resume or --force is given.")
    Path out;

    @Option(names = "--resume", description = "The --out folder holds a run: continue training its saved model (model.zip, else the newest checkpoint) for --epochs more epochs, adding the records to its stats.dl4j in the same session. The flags that define the data and the model (--model/--config, --data, --classes, limits, --batch, --seed, --label-noise, --corrupt; kept in run-settings.properties) must match the original run's.")
    boolean resume;

    @Option(names = "--force", description = "The --out folder holds a run: delete that run's files (stats.dl4j, model.zip, checkpoints, flipped-labels.txt, run-settings.properties) and start afresh.")
    boolean force;

    @Option(names = "--port", defaultValue = "9000", description = "Port of the UI (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = StethoscopeUIServer.DEFAULT_BIND, description = "Address the UI listens on (default: ${DEFAULT-VALUE}, this machine only).")
    String bind;

    @Option(names = "--no-ui", description = "Do not start the UI (records are still written to the run folder).")
    boolean noUi;

    @Option(names = "--exit-when-done", description = "Stop the UI and exit when training ends (default: keep serving until Ctrl+C).")
    boolean exitWhenDone;

    @Option(names = "--checkpoint-every", defaultValue = "0", description = "Also save the model every K epochs (0 = only at the end).")
    int checkpointEvery;

    @Option(names = "--preset", defaultValue = "business",
            description = "Monitor set (Stethoscope.Preset): economy (health, suspects), business (+ probes, similarity and "
                    + "memorisation every 2 epochs and at the last), full (every monitor every epoch, attributions included). "
                    + "The --X-every flags below override it. Default: ${DEFAULT-VALUE}.")
    String preset;

    @Option(names = "--health-every", description = "Health monitor: sample every N iterations (preset: 10).")
    Integer healthEvery;

    @Option(names = "--sync-monitors", description = "Run the monitors' analyses inside the training callbacks instead of on background threads (slower; for comparisons and soak tests).")
    boolean syncMonitors;

    @Option(names = "--no-monitors", description = "Train without Stethoscope monitors (for comparisons).")
    boolean noMonitors;

    @Option(names = "--spark", paramLabel = "MASTER",
            description = "Train with DL4J's Spark parameter averaging on this Spark master (local[2], local[*], "
                    + "spark://host:7077, ...): health, suspects (and assertions) on the workers, the preset's epoch "
                    + "analyses on the driver (docs/spark.md). The sample's models (mlp, cnn, resnet); not with --config, "
                    + "--resume or --corrupt. DL4J's own pages get no records on Spark.")
    String spark;

    @Option(names = "--averaging-frequency", defaultValue = "5",
            description = "With --spark: average the workers' parameters every K minibatches (default: ${DEFAULT-VALUE}).")
    int averagingFrequency;

    @Option(names = "--corrupt", defaultValue = "none", converter = CorruptionOption.Converter.class,
            description = "Randomisation test (Zhang et al.): " + CorruptionOption.CHOICES + ". Default: ${DEFAULT-VALUE}.")
    CorruptionOption corrupt;

    @Option(names = "--memorization-every", description = "Memorisation signals (CSR, loss sensitivity, Gini) every K epochs; 0 = off (preset: business 2, full 1).")
    Integer memorizationEvery;

    @Option(names = "--csr-examples", defaultValue = "100", description = "Validation examples for the critical sample ratio (default: ${DEFAULT-VALUE}).")
    int csrExamples;

    @Option(names = "--lass-preset", defaultValue = "default",
            description = "LASS parameters of the critical sample ratio: default (r = 4/255, calibrated on MNIST) or paper (Arpit et al.'s r = 0.3/255). Default: ${DEFAULT-VALUE}.")
    String lassPreset;

    @Option(names = "--lass-radius", description = "LASS radius r in [0,1] pixel units, overriding the preset's (alpha and beta scale with it).")
    Double lassRadius;

    @Option(names = "--attribution-every", description = "Attributions (IG, LRP-eps, saliency) for one test example per class every K epochs; 0 = off (preset: full 1, else off).")
    Integer attributionEvery;

    @Option(names = "--features", paramLabel = "SCHEDULE", description = "Feature evolution (top-9 examples, crops and deconvnet projections per unit) at these epochs: an epoch list like 1,2,5,10 or epochs:K, optionally +last; never = off (preset: full 1,2,5,10,20,30,40,64+last, else off).")
    String features;

    @Option(names = "--probe-every", description = "Linear probes on every hidden layer every K epochs and at the end; 0 = off (preset: business 2, full 1).")
    Integer probeEvery;

    @Option(names = "--probe-max-features", description = "Linear probes: average-pool a conv layer's positions until it has at most N features; 0 = probe every value (preset: " + Stethoscope.PROBE_MAX_FEATURES + ").")
    Integer probeMaxFeatures;

    @Option(names = "--probe-examples", defaultValue = "2000", description = "First N test examples as probe set, alternately probe-train / probe-test (default: ${DEFAULT-VALUE}).")
    int probeExamples;

    @Option(names = "--similarity-every", description = "Layer similarity snapshots every K epochs, before training and at the end; 0 = off (preset: business 2, full 1).")
    Integer similarityEvery;

    @Option(names = "--similarity-method", defaultValue = "svcca", description = "svcca, pwcca, cka or cka-debiased (default: ${DEFAULT-VALUE}).")
    String similarityMethod;

    @Option(names = "--similarity-examples", description = "First N test examples as the similarity probe set (default: the probes' probe-train half of --probe-examples, so both read one forward pass).")
    Integer similarityExamples;

    @Option(names = "--similarity-conv", defaultValue = "positions", description = "Conv layers: positions (channels are neurons, positions data points, bounded) or flatten (default: ${DEFAULT-VALUE}).")
    String similarityConv;

    /**
     * The flags that define which examples are trained on, in which order, with which labels and
     * which network: {@code --resume} must be given the same (see {@link RunFolder#checkSameSettings}).
     */
    java.util.Map<String, String> runSettings() {
        java.util.Map<String, String> m = new java.util.LinkedHashMap<>();
        m.put("--model", config != null ? "config " + config.toAbsolutePath().normalize() : model.name());
        m.put("--data", dataOptions.data == null ? "MNIST" : dataOptions.data.toAbsolutePath().normalize().toString());
        m.put("--classes", Integer.toString(dataOptions.classes));
        m.put("--train-limit", Integer.toString(trainLimit));
        m.put("--test-limit", Integer.toString(testLimit));
        m.put("--batch", Integer.toString(batch));
        m.put("--seed", Long.toString(seed));
        m.put("--label-noise", Double.toString(labelNoise));
        m.put("--corrupt", corrupt.toString());
        return m;
    }

    @Override
    public Integer call() throws Exception {
        validate();
        Path runDir = out != null ? out : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        RunFolder folder = RunFolder.check(runDir, resume, force);
        File resumeFrom = resume ? folder.modelToResume() : null;

        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        LabeledImages test = DataOptions.limit(mnist.test(), testLimit);
        int classes = mnist.numClasses();

        int[] labels = train.labelValues();
        long[] flipped = null;
        LabelNoise.Result noise = labelNoise > 0 ? LabelNoise.flip(labels, classes, labelNoise, seed) : null;
        java.util.Map<String, String> settings = runSettings();
        if (resume) {
            folder.checkSameSettings(settings);
            folder.checkSameLabelNoise(noise);
        }
        if (force) {
            folder.deleteRun();
        }
        Files.createDirectories(runDir);
        if (!resume) {
            folder.writeSettings(settings);
        }
        if (noise != null) {
            Path f = resume ? runDir.resolve(LabelNoise.FILE_NAME) : noise.writeIndices(runDir);
            labels = noise.labels();
            flipped = java.util.Arrays.stream(noise.flippedIndices()).asLongStream().toArray();
            System.out.printf("Label noise: flipped %d of %d training labels (%.1f%%); indices in %s%n",
                    noise.flippedCount(), labels.length, 100 * labelNoise, f);
        }
        INDArray trainX = train.features();
        INDArray trainY = DataConversion.oneHot(labels, classes);
        IndexedArrayIterator trainIter = IndexedArrayIterator.builder(trainX, trainY).batchSize(batch).shuffle(seed).build();
        IndexedArrayIterator testIter = IndexedArrayIterator.builder(test.features(), test.oneHotLabels(classes))
                .batchSize(512).noShuffle().build();
        CorruptionOption.Applied corruption = corrupt.apply(
                IndexedArrayIterator.builder(trainX, trainY).batchSize(1000).noShuffle().build(), seed);
        if (corruption.randomization() != null) {
            System.out.println("Randomisation test: " + corruption.describe());
        }

        Model net;
        if (resumeFrom != null) {
            Model restored = RunFolder.restoreAny(resumeFrom, mnist.rows(), mnist.cols(), classes);
            System.out.printf("Resuming %s after epoch %d%n", resumeFrom, restored instanceof MultiLayerNetwork m
                    ? m.getEpochCount() : ((org.deeplearning4j.nn.graph.ComputationGraph) restored).getEpochCount());
            net = restored;
        } else if (config != null) {
            net = ConfigModels.load(config);
            ConfigModels.check(net, mnist.rows(), mnist.cols(), classes);
        } else {
            net = Models.buildModel(model, seed, mnist.rows(), mnist.cols(), classes);
        }
        String modelName = config != null ? config.getFileName() + " (" + net.getClass().getSimpleName() + ")"
                : net instanceof MultiLayerNetwork ? model.name() : model.name() + " (" + net.getClass().getSimpleName() + ")";
        System.out.printf("Model %s: %,d parameters; %d training and %d test examples of %dx%d; batch %d; %d epoch(s)%n",
                modelName, net.numParams(), train.size(), test.size(), mnist.rows(), mnist.cols(), batch, epochs);

        File statsFile = runDir.resolve("stats.dl4j").toFile();
        FileStatsStorage storage = statsFile.isFile() ? dev.stethoscope.plugin.StatsFiles.open(statsFile)
                : new FileStatsStorage(statsFile);
        StethoscopeUIServer ui = null;
        Stethoscope monitors = null;
        boolean trained = false;
        try {
            if (!noUi) {
                ui = StethoscopeUIServer.start(bind, port);
                ui.attach(storage);
                System.out.println("Dashboard: " + ui.url() + "   (DL4J's pages: " + ui.url().replace("/stethoscope", "/train") + ")");
            }
            String session = resumeFrom != null ? resumedSession(storage, "stethoscope-" + runDir.getFileName())
                    : Sessions.newId("stethoscope-" + runDir.getFileName());
            System.out.println("Session: " + session);
            Sessions.assign(net, session);
            net.addListeners(new StatsListener(storage, null, null, session + "-dl4j", null));
            DataSetIterator fitIter = corruption.train(trainIter);
            if (spark != null) {
                DataSet trainSample = trainIter.firstExamples(Math.min(5000, trainIter.totalExamples()));
                ConsoleProgress progress = new ConsoleProgress(trainIter.totalExamples(), batch, testIter,
                        IndexedArrayIterator.builder(trainSample.getFeatures(), trainSample.getLabels())
                                .indices(ExampleIndex.indicesOf(trainSample)).batchSize(512).noShuffle().build());
                trainOnSpark(net, storage, train, test, classes, mnist, flipped, trainX, trainY,
                        corruption, progress, runDir);
                trained = true;
                finish(net, runDir, statsFile, progress, ui);
                return 0;
            }
            if (!noMonitors) {
                Stethoscope.Setup setup = monitorSetup(train, test, classes, mnist, flipped, trainX, trainY, corruption);
                if (config != null) {
                    AssertionListener.Builder assertions = ModelAssertions.builder(net, storage).plannedEpochs(epochs)
                            .validation(IndexedArrayIterator.builder(test.features(), test.oneHotLabels(classes))
                                    .batchSize(512).noShuffle().build());
                    monitors = setup.attachSupported(net, storage, assertions);
                    writeSkipped(runDir, monitors.skipped());
                } else if (!(net instanceof MultiLayerNetwork)) {
                    // --model resnet or twoview: monitors that do not support the graph are skipped and listed
                    monitors = setup.attachSupported(net, storage);
                    writeSkipped(runDir, monitors.skipped());
                } else {
                    monitors = setup.attach(net, storage);
                }
                fitIter = monitors.track(fitIter);
                System.out.println("Monitors (" + preset.toLowerCase(java.util.Locale.ROOT) + "): " + monitors.monitors()
                        .stream().map(StethoscopeListener::monitorName).toList());
                monitors.skipped().forEach((m, why) -> System.out.println("  not attached: " + m + " (" + why + ")"));
            }
            DataSet trainSample = trainIter.firstExamples(Math.min(5000, trainIter.totalExamples()));
            ConsoleProgress progress = new ConsoleProgress(trainIter.totalExamples(), batch, corruption.test(testIter),
                    corruption.train(IndexedArrayIterator.builder(trainSample.getFeatures(), trainSample.getLabels())
                            .indices(ExampleIndex.indicesOf(trainSample)).batchSize(512).noShuffle().build()));
            net.addListeners(progress);
            org.slf4j.Logger memLog = org.slf4j.LoggerFactory.getLogger("dev.stethoscope.memory");
            Thread sampler = memLog.isDebugEnabled() ? memorySampler(memLog) : null;
            for (int e = 0; e < epochs; e++) {
                ConfigModels.fit(net, fitIter);
                memLog.debug("after epoch {}: {}", e + 1, dev.stethoscope.listeners.core.MemoryUse.now());
                if (checkpointEvery > 0 && (e + 1) % checkpointEvery == 0 && e + 1 < epochs) {
                    File ck = runDir.resolve("checkpoint-epoch-" + (e + 1) + ".zip").toFile();
                    ModelSerializer.writeModel(net, ck, true);
                    log.info("Checkpoint saved: {}", ck);
                }
            }
            closeMonitors(monitors); // publishes the last analyses before the model is saved
            monitors = null;
            memLog.debug("after closing the monitors: {}", dev.stethoscope.listeners.core.MemoryUse.now());
            if (sampler != null) {
                sampler.interrupt();
            }
            trained = true;
            finish(net, runDir, statsFile, progress, ui);
        } finally {
            if (!trained) {
                // fit (or saving) failed: the analyses already handed over still publish their records
                closeMonitors(monitors);
            }
            if (ui != null) {
                ui.close();
            }
            storage.close();
        }
        return 0;
    }

    /** Saves the model, prints the summary and, with the UI, keeps serving until Ctrl+C (unless --exit-when-done). */
    private void finish(Model net, Path runDir, File statsFile, ConsoleProgress progress, StethoscopeUIServer ui)
            throws Exception {
        File modelFile = runDir.resolve("model.zip").toFile();
        ModelSerializer.writeModel(net, modelFile, true);
        System.out.printf("Done. Run folder: %s (model.zip, stats.dl4j). Seconds per epoch: %s%n",
                runDir, progress.epochSecondsSummary());
        System.out.printf("Training-thread CPU seconds per epoch: %s%n", progress.epochCpuSecondsSummary());
        System.out.println(dev.stethoscope.listeners.core.CpuAccounting.gcSummary());
        if (dev.stethoscope.listeners.core.CpuAccounting.enabled()) {
            System.out.print(dev.stethoscope.listeners.core.CpuAccounting.report());
        }
        System.out.println("Reopen the dashboard later with: java -jar sample-training/target/stethoscope-sample.jar view " + statsFile);
        if (ui != null && !exitWhenDone) {
            System.out.println("The dashboard stays up at " + ui.url() + ". Press Ctrl+C to stop.");
            CountDownLatch forever = new CountDownLatch(1);
            Runtime.getRuntime().addShutdownHook(new Thread(forever::countDown));
            forever.await();
        }
    }

    /**
     * {@code --spark MASTER}: DL4J's parameter averaging on Spark, the training examples as an RDD of
     * minibatches carrying their indices; the preset's monitors split between workers and driver by
     * {@link StethoscopeSpark} (with {@code --no-monitors}, none). Prints each epoch as the one-JVM
     * run does (the training loss is not known on the driver).
     */
    private void trainOnSpark(Model net, FileStatsStorage storage, LabeledImages train, LabeledImages test,
                              int classes, MnistData mnist, long[] flipped, INDArray trainX, INDArray trainY,
                              CorruptionOption.Applied corruption, ConsoleProgress progress, Path runDir)
            throws java.io.IOException {
        int workers;
        // Spark moves tasks, results and data with Java serialization, which the stats-file filter (installed
        // JVM-wide by Main) refuses. With --spark the only stats file is the one this run creates (--resume is
        // refused), so the filter is off while Spark runs and on again afterwards.
        boolean filterWasActive = dev.stethoscope.plugin.StatsFileFilter.active();
        dev.stethoscope.plugin.StatsFileFilter.suspend(true);
        try (JavaSparkContext sc = SparkTraining.context(spark)) {
            workers = sc.defaultParallelism();
            SparkDl4jMultiLayer sparkNet = net instanceof MultiLayerNetwork mln
                    ? new SparkDl4jMultiLayer(sc, mln, SparkTraining.master(batch, averagingFrequency)) : null;
            SparkComputationGraph sparkGraph = sparkNet != null ? null : new SparkComputationGraph(sc,
                    (org.deeplearning4j.nn.graph.ComputationGraph) net, SparkTraining.master(batch, averagingFrequency));
            org.deeplearning4j.spark.api.TrainingMaster<?, ?> master = sparkNet != null ? sparkNet.getTrainingMaster()
                    : sparkGraph.getTrainingMaster();
            // one element per minibatch of --batch examples (a graph's workers keep the ids only so)
            JavaRDD<DataSet> data = SparkTraining.batches(sc, trainX, trainY, batch, workers);
            JavaRDD<org.nd4j.linalg.dataset.api.MultiDataSet> graphData = sparkGraph == null ? null
                    : StethoscopeSpark.toMultiDataSets(data);
            System.out.printf("Spark %s: %d workers, %d examples a minibatch, parameters averaged every %d minibatches%n",
                    spark, workers, batch, averagingFrequency);
            StethoscopeSpark monitors = null;
            if (!noMonitors) {
                Stethoscope.Setup setup = monitorSetup(train, test, classes, mnist, flipped, trainX, trainY, corruption);
                // the workers send logits, not pixels: the driver's suspects monitor looks the examples up here
                StethoscopeSpark.Setup sparkSetup = StethoscopeSpark.of(setup).numExamples(train.size())
                        .tuneDynamics(b -> b.exampleSource(i -> trainX.getRow(i, true)));
                monitors = sparkNet != null ? sparkSetup.attach(sparkNet, storage) : sparkSetup.attach(sparkGraph, storage);
                System.out.println("Monitors on the workers: " + monitors.workerListeners().stream()
                        .map(StethoscopeListener::monitorName).toList() + "; on the driver: "
                        + monitors.driver().monitors().stream().map(StethoscopeListener::monitorName).toList()
                        + (monitors.dynamics() != null ? " + training-dynamics (merged)" : ""));
                monitors.skipped().forEach((m, why) -> System.out.println("  not attached: " + m + " (" + why + ")"));
            }
            try {
                for (int e = 0; e < epochs; e++) {
                    progress.onEpochStart(net);
                    long cpu0 = processCpuNanos();
                    if (monitors != null) {
                        monitors.fit(data);
                    } else if (sparkNet != null) {
                        sparkNet.fit(data);
                    } else {
                        sparkGraph.fitMultiDataSet(graphData);
                    }
                    processCpuSeconds.add(String.format(java.util.Locale.ROOT, "%.2f", (processCpuNanos() - cpu0) / 1e9));
                    int done = ConfigModels.epochCount(net);
                    setEpochCount(net, done - 1); // ConsoleProgress prints the finished epoch as DL4J numbers it
                    try {
                        progress.onEpochEnd(net);
                    } finally {
                        setEpochCount(net, done);
                    }
                    if (checkpointEvery > 0 && (e + 1) % checkpointEvery == 0 && e + 1 < epochs) {
                        File ck = runDir.resolve("checkpoint-epoch-" + (e + 1) + ".zip").toFile();
                        ModelSerializer.writeModel(net, ck, true);
                    }
                }
            } finally {
                if (monitors != null) {
                    monitors.close();
                    System.out.println("Worker records per delivery to the driver (one per averaging round): "
                            + monitors.recordsPerDelivery());
                }
                master.deleteTempFiles(sc);
                System.out.println("Process CPU seconds per epoch (fit and the driver's synchronous analyses, every "
                        + "thread of this JVM: the local workers included): " + processCpuSeconds);
            }
        } finally {
            if (filterWasActive) {
                dev.stethoscope.plugin.StatsFileFilter.suspend(false);
            }
        }
    }

    /** Process CPU seconds of each Spark epoch (all threads of the JVM; the workers too in local[N]). */
    private final java.util.List<String> processCpuSeconds = new java.util.ArrayList<>();

    private static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory
                .getOperatingSystemMXBean()).getProcessCpuTime();
    }

    private static void setEpochCount(Model net, int n) {
        if (net instanceof MultiLayerNetwork m) {
            m.setEpochCount(n);
        } else {
            ((org.deeplearning4j.nn.graph.ComputationGraph) net).getConfiguration().setEpochCount(n);
        }
    }

    /** The file of the run folder listing the monitors a --config network does not support. */
    public static final String SKIPPED_FILE = "skipped-monitors.txt";

    /** Writes {@link #SKIPPED_FILE} (monitor, tab, reason per line) when monitors were skipped. */
    static void writeSkipped(Path runDir, java.util.Map<String, String> skipped) throws java.io.IOException {
        if (skipped.isEmpty()) {
            return;
        }
        StringBuilder sb = new StringBuilder();
        skipped.forEach((m, why) -> sb.append(m).append('\t').append(why.replace('\n', ' ')).append('\n'));
        Files.writeString(runDir.resolve(SKIPPED_FILE), sb.toString());
    }

    /**
     * The Stethoscope session of the run being resumed: the one session in its stats file named
     * {@code stem} or {@code stem-<suffix>} (DL4J's own {@code -dl4j} session aside), so that the
     * resumed epochs add to the same series; a new id when there is none or several.
     */
    static String resumedSession(org.deeplearning4j.core.storage.StatsStorage storage, String stem) {
        java.util.List<String> ids = storage.listSessionIDs().stream()
                .filter(id -> (id.equals(stem) || id.startsWith(stem + "-")) && !id.endsWith("-dl4j")).toList();
        if (ids.size() == 1) {
            return ids.get(0);
        }
        String id = Sessions.newId(stem);
        log.warn("The resumed run's stats file holds {} Stethoscope sessions named {}*: the resumed epochs go to a new "
                + "session {}", ids.size(), stem, id);
        return id;
    }

    /** The preset, with its alpha and beta scaled to {@code --lass-radius} when given. */
    LassParameters lassParameters() {
        LassParameters p = LassParameters.preset(lassPreset);
        if (lassRadius == null) {
            return p;
        }
        double k = lassRadius / p.radius();
        return p.withRadius(lassRadius).withAlpha(p.alpha() * k).withBeta(p.beta() * k);
    }

    /**
     * A daemon thread logging the process's memory every 2 seconds at DEBUG (logger
     * {@code dev.stethoscope.memory}; overhead work, docs/overhead.md), until interrupted.
     */
    private static Thread memorySampler(org.slf4j.Logger memLog) {
        Thread t = new Thread(() -> {
            long peak = 0;
            try {
                while (!Thread.currentThread().isInterrupted()) {
                    var m = dev.stethoscope.listeners.core.MemoryUse.now();
                    peak = Math.max(peak, m.rss());
                    memLog.debug("sample: {} (peak RSS so far {} MB)", m, peak >> 20);
                    Thread.sleep(2000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "stethoscope-memory-sampler");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Closes the monitors (each publishes what it still computes) before the storage closes; the
     * handle logs a failure of one and still closes the others. Null (no monitors) is fine.
     */
    static void closeMonitors(Stethoscope monitors) {
        if (monitors != null) {
            monitors.close();
        }
    }

    /**
     * The {@code --preset} with the run's data and the flags that override it: an explicit
     * {@code --X-every 0} leaves that monitor out, {@code K} sets its period.
     */
    Stethoscope.Setup monitorSetup(LabeledImages train, LabeledImages test, int classes, MnistData mnist, long[] flipped,
                                   INDArray trainX, INDArray trainY, CorruptionOption.Applied corruption) {
        Stethoscope.Preset p = Stethoscope.Preset.parse(preset);
        Stethoscope.Setup setup = Stethoscope.preset(p).async(!syncMonitors).totalEpochs(epochs)
                .numExamples(train.size())
                .probeData(test.head(Math.min(probeExamples, test.size())).toDataSet(classes))
                .training(corruption.train(IndexedArrayIterator.builder(trainX, trainY).batchSize(512).noShuffle().build()))
                .validation(corruption.test(IndexedArrayIterator.builder(test.features(), test.oneHotLabels(classes))
                        .batchSize(512).noShuffle().build()))
                .tune(TrainingDynamicsListener.Builder.class,
                        b -> b.flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols()))
                .tune(SvccaListener.Builder.class, b -> b.method(similarityMethod).convMode(ConvMode.parse(similarityConv)))
                .tune(MemorizationListener.Builder.class,
                        b -> b.lass(lassParameters()).validationSize(Math.min(csrExamples, test.size())))
                .tune(AttributionListener.Builder.class, b -> {
                    if (config == null && model == Models.Kind.twoview) {
                        // two inputs: each half is an image of its own (the suspects' features stay the whole digit,
                        // the joint form of the halves)
                        int top = mnist.rows() / 2;
                        b.imageShape("top", 1, top, mnist.cols()).imageShape("bottom", 1, mnist.rows() - top, mnist.cols());
                    } else {
                        b.imageShape(1, mnist.rows(), mnist.cols());
                    }
                });
        if (probeMaxFeatures != null) {
            int max = probeMaxFeatures;
            setup.tune(LinearProbeListener.Builder.class,
                    b -> b.options(dev.stethoscope.probes.linear.LinearProbe.Options.defaults().withMaxFeatures(max)));
        }
        if (healthEvery != null) {
            setup.tune(HealthListener.Builder.class, b -> b.schedule(Schedule.iterations(healthEvery)));
        }
        if (similarityExamples != null) {
            setup.tune(SvccaListener.Builder.class,
                    b -> b.probeInputs(test.head(Math.min(similarityExamples, test.size())).features()));
        }
        period(setup, p, "--probe-every", probeEvery, LinearProbeListener.Builder.class,
                (b, k) -> b.schedule(Schedule.epochs(k).andLast().totalEpochs(epochs)));
        period(setup, p, "--similarity-every", similarityEvery, SvccaListener.Builder.class,
                (b, k) -> b.schedule(Schedule.epochs(k).andLast().totalEpochs(epochs)));
        period(setup, p, "--memorization-every", memorizationEvery, MemorizationListener.Builder.class,
                (b, k) -> b.schedule(Schedule.epochs(k)));
        if (attributionEvery != null && attributionEvery > 0 && p != Stethoscope.Preset.FULL) {
            throw new IllegalArgumentException("--attribution-every " + attributionEvery + " needs --preset full (the "
                    + p.name().toLowerCase(java.util.Locale.ROOT) + " preset has no attribution monitor)");
        }
        if (features != null) {
            Schedule fs = Schedule.parse(features);
            if (fs.kind() == Schedule.Kind.NEVER) {
                setup.without(FeatureEvolutionListener.Builder.class);
            } else if (p != Stethoscope.Preset.FULL) {
                throw new IllegalArgumentException("--features " + features + " needs --preset full (the "
                        + p.name().toLowerCase(java.util.Locale.ROOT) + " preset has no feature-evolution monitor)");
            } else {
                setup.tune(FeatureEvolutionListener.Builder.class, b -> b.schedule(fs.totalEpochs(epochs)));
            }
        }
        period(setup, p, "--attribution-every", attributionEvery, AttributionListener.Builder.class,
                (b, k) -> b.schedule(Schedule.epochs(k).andLast().totalEpochs(epochs)));
        return setup;
    }

    private static <B extends StethoscopeListener.Builder<?, ?>> void period(Stethoscope.Setup setup, Stethoscope.Preset p,
            String flag, Integer every, Class<B> type, java.util.function.BiConsumer<B, Integer> set) {
        if (every == null) {
            return;
        }
        if (every == 0) {
            setup.without(type);
        } else if (p == Stethoscope.Preset.ECONOMY) {
            throw new IllegalArgumentException(flag + " " + every + " needs --preset business or full (the economy "
                    + "preset has no such monitor)");
        } else {
            setup.tune(type, b -> set.accept(b, every));
        }
    }

    /** Checks every flag before anything is read or written. */
    void validate() {
        Checks.atLeast("--epochs", epochs, 1);
        Checks.atLeast("--batch", batch, 1);
        Checks.inRange("--label-noise", labelNoise, 0, 1, true);
        Checks.atLeast("--train-limit", trainLimit, 0);
        Checks.atLeast("--test-limit", testLimit, 0);
        if (probeMaxFeatures != null) {
            Checks.atLeast("--probe-max-features", probeMaxFeatures, 0);
        }
        Checks.atLeast("--checkpoint-every", checkpointEvery, 0);
        Stethoscope.Preset p = Stethoscope.Preset.parse(preset); // lists the valid presets
        String name = p.name().toLowerCase(java.util.Locale.ROOT);
        for (Object[] f : new Object[][]{{"--probe-every", probeEvery}, {"--similarity-every", similarityEvery},
                {"--memorization-every", memorizationEvery}}) {
            if (p == Stethoscope.Preset.ECONOMY && f[1] != null && (Integer) f[1] > 0) {
                throw new IllegalArgumentException(f[0] + " " + f[1] + " needs --preset business or full (the economy "
                        + "preset has no such monitor)");
            }
        }
        if (attributionEvery != null && attributionEvery > 0 && p != Stethoscope.Preset.FULL) {
            throw new IllegalArgumentException("--attribution-every " + attributionEvery + " needs --preset full (the "
                    + name + " preset has no attribution monitor)");
        }
        if (healthEvery != null) {
            Checks.atLeast("--health-every", healthEvery, 1);
        }
        if (memorizationEvery != null) {
            Checks.atLeast("--memorization-every", memorizationEvery, 0);
        }
        if (attributionEvery != null) {
            Checks.atLeast("--attribution-every", attributionEvery, 0);
        }
        Checks.atLeast("--csr-examples", csrExamples, 1);
        if (probeEvery != null) {
            Checks.atLeast("--probe-every", probeEvery, 0);
        }
        if (similarityEvery != null) {
            Checks.atLeast("--similarity-every", similarityEvery, 0);
        }
        Checks.atLeast("--probe-examples", probeExamples, 4);
        if (similarityExamples != null) {
            Checks.atLeast("--similarity-examples", similarityExamples, 4);
        }
        dev.stethoscope.probes.similarity.SimilarityMethod.parse(similarityMethod);
        if (features != null) {
            Schedule fs = Schedule.parse(features);
            if (fs.kind() != Schedule.Kind.NEVER && fs.kind() != Schedule.Kind.EPOCH_LIST && fs.kind() != Schedule.Kind.EPOCHS) {
                throw new IllegalArgumentException("--features takes an epoch list (1,2,5,10), epochs:K or never, got '" + features + "'");
            }
        }
        if (lassRadius != null && !(lassRadius > 0 && lassRadius <= 1)) {
            throw new IllegalArgumentException("--lass-radius must be in (0, 1], got " + lassRadius);
        }
        LassParameters.preset(lassPreset); // lists the valid presets
        ConvMode.parse(similarityConv);
        Checks.port("--port", port);
        if (bind == null || bind.isBlank()) {
            throw new IllegalArgumentException("--bind must be an address such as 127.0.0.1, got an empty value");
        }
        if (resume && force) {
            throw new IllegalArgumentException("--resume and --force exclude each other: --resume continues the run in "
                    + "--out, --force deletes it");
        }
        if (config != null && resume) {
            throw new IllegalArgumentException("--resume continues the sample's own models; with --config, start a new run");
        }
        if (spark != null) {
            if (spark.isBlank()) {
                throw new IllegalArgumentException("--spark needs a Spark master such as local[2], got an empty value");
            }
            if (config != null) {
                throw new IllegalArgumentException("--spark trains the sample's own models (--model mlp, cnn or resnet), "
                        + "not --config");
            }
            if (model == Models.Kind.twoview) {
                throw new IllegalArgumentException("--spark trains the sample's one-input models (--model mlp, cnn or "
                        + "resnet), not --model twoview (two inputs)");
            }
            if (resume) {
                throw new IllegalArgumentException("--spark and --resume exclude each other: start a new run");
            }
            if (corrupt.kind() != CorruptionOption.Kind.NONE) {
                throw new IllegalArgumentException("--spark trains on the data as it is: --corrupt " + corrupt
                        + " is not supported with it");
            }
            Checks.atLeast("--averaging-frequency", averagingFrequency, 1);
        }
        if ((resume || force) && out == null) {
            throw new IllegalArgumentException((resume ? "--resume" : "--force") + " needs --out, the run folder");
        }
        dataOptions.validate();
    }
}
