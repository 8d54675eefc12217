package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.core.Sessions;
import dev.stethoscope.listeners.data.IndexedArrayIterator;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.attribution.AttributionListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.probes.LinearProbeListener;
import dev.stethoscope.listeners.probes.SvccaListener;
import dev.stethoscope.probes.similarity.ConvMode;
import dev.stethoscope.plugin.StethoscopeUIServer;
import dev.stethoscope.sample.ConsoleProgress;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
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

    @Option(names = "--model", defaultValue = "mlp", description = "mlp (784-512-10) or cnn (LeNet). Default: ${DEFAULT-VALUE}.")
    Models.Kind model;

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


    @Option(names = "--out", description = "Run folder (default: runs/<date-time>).")
    Path out;

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

    @Option(names = "--health-every", defaultValue = "10", description = "Health monitor: sample every N iterations (default: ${DEFAULT-VALUE}).")
    int healthEvery;

    @Option(names = "--sync-monitors", description = "Run the monitors' analyses inside the training callbacks instead of on background threads (slower; for comparisons and soak tests).")
    boolean syncMonitors;

    @Option(names = "--no-monitors", description = "Train without Stethoscope monitors (for comparisons).")
    boolean noMonitors;

    @Option(names = "--corrupt", defaultValue = "none", converter = CorruptionOption.Converter.class,
            description = "Randomisation test (Zhang et al.): " + CorruptionOption.CHOICES + ". Default: ${DEFAULT-VALUE}.")
    CorruptionOption corrupt;

    @Option(names = "--memorization-every", defaultValue = "1", description = "Memorisation signals (CSR, loss sensitivity, Gini) every K epochs; 0 = off (default: ${DEFAULT-VALUE}).")
    int memorizationEvery;

    @Option(names = "--csr-examples", defaultValue = "100", description = "Validation examples for the critical sample ratio (default: ${DEFAULT-VALUE}).")
    int csrExamples;

    @Option(names = "--attribution-every", defaultValue = "1", description = "Attributions (IG, LRP-eps, saliency) for one test example per class every K epochs; 0 = off (default: ${DEFAULT-VALUE}).")
    int attributionEvery;

    @Option(names = "--probe-every", defaultValue = "1", description = "Linear probes on every hidden layer every K epochs and at the end; 0 = off (default: ${DEFAULT-VALUE}).")
    int probeEvery;

    @Option(names = "--probe-examples", defaultValue = "2000", description = "First N test examples as probe set, alternately probe-train / probe-test (default: ${DEFAULT-VALUE}).")
    int probeExamples;

    @Option(names = "--similarity-every", defaultValue = "1", description = "Layer similarity snapshots every K epochs, before training and at the end; 0 = off (default: ${DEFAULT-VALUE}).")
    int similarityEvery;

    @Option(names = "--similarity-method", defaultValue = "svcca", description = "svcca, pwcca, cka or cka-debiased (default: ${DEFAULT-VALUE}).")
    String similarityMethod;

    @Option(names = "--similarity-examples", defaultValue = "1000", description = "First N test examples as the similarity probe set (default: ${DEFAULT-VALUE}).")
    int similarityExamples;

    @Option(names = "--similarity-conv", defaultValue = "positions", description = "Conv layers: positions (channels are neurons, positions data points, bounded) or flatten (default: ${DEFAULT-VALUE}).")
    String similarityConv;

    @Override
    public Integer call() throws Exception {
        validate();
        Path runDir = out != null ? out : Path.of("runs", LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(runDir);

        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        LabeledImages test = DataOptions.limit(mnist.test(), testLimit);
        int classes = mnist.numClasses();

        int[] labels = train.labelValues();
        long[] flipped = null;
        if (labelNoise > 0) {
            LabelNoise.Result noise = LabelNoise.flip(labels, classes, labelNoise, seed);
            Path f = noise.writeIndices(runDir);
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

        MultiLayerNetwork net = Models.build(model, seed, mnist.rows(), mnist.cols(), classes);
        System.out.printf("Model %s: %,d parameters; %d training and %d test examples of %dx%d; batch %d; %d epoch(s)%n",
                model, net.numParams(), train.size(), test.size(), mnist.rows(), mnist.cols(), batch, epochs);

        File statsFile = runDir.resolve("stats.dl4j").toFile();
        FileStatsStorage storage = new FileStatsStorage(statsFile);
        StethoscopeUIServer ui = null;
        try {
            if (!noUi) {
                ui = StethoscopeUIServer.start(bind, port);
                ui.attach(storage);
                System.out.println("Dashboard: " + ui.url() + "   (DL4J's pages: " + ui.url().replace("/stethoscope", "/train") + ")");
            }
            String session = "stethoscope-" + runDir.getFileName();
            LinearProbeListener probes = null;
            SvccaListener similarity = null;
            MemorizationListener memorization = null;
            TrainingDynamicsListener dynamics = null;
            Sessions.assign(net, session);
            net.addListeners(new StatsListener(storage, null, null, session + "-dl4j", null));
            DataSetIterator fitIter = corruption.train(trainIter);
            if (!noMonitors) {
                HealthListener.builder(net, storage).every(healthEvery).attach();
                dynamics = TrainingDynamicsListener.builder(net, storage).async(!syncMonitors)
                        .numExamples(train.size()).flippedIndices(flipped).featureShape(1, mnist.rows(), mnist.cols())
                        .attach();
                fitIter = dynamics.track(fitIter);
                if (probeEvery > 0) {
                    probes = LinearProbeListener.builder(net, storage).async(!syncMonitors).every(probeEvery).totalEpochs(epochs)
                            .probeData(test.head(Math.min(probeExamples, test.size())).toDataSet(classes)).attach();
                }
                if (similarityEvery > 0) {
                    similarity = SvccaListener.builder(net, storage).async(!syncMonitors).every(similarityEvery).totalEpochs(epochs)
                            .method(similarityMethod).convMode(ConvMode.parse(similarityConv))
                            .probeInputs(test.head(Math.min(similarityExamples, test.size())).features()).attach();
                }
                if (memorizationEvery > 0) {
                    memorization = MemorizationListener.builder(net, storage).async(!syncMonitors)
                            .csrEveryEpochs(memorizationEvery)
                            .validationSize(Math.min(csrExamples, test.size()))
                            .training(corruption.train(IndexedArrayIterator.builder(trainX, trainY)
                                    .batchSize(512).noShuffle().build()))
                            .validation(corruption.test(IndexedArrayIterator.builder(test.features(),
                                    test.oneHotLabels(classes)).batchSize(512).noShuffle().build()))
                            .attach();
                }
                if (attributionEvery > 0) {
                    AttributionListener.builder(net, storage)
                            .methods("ig", "lrp-eps", "saliency")
                            .examplesPerClass(test.head(Math.min(2000, test.size())).toDataSet(classes), 1)
                            .imageShape(1, mnist.rows(), mnist.cols())
                            .everyEpochs(attributionEvery).totalEpochs(epochs)
                            .attach();
                }
            }
            DataSet trainSample = trainIter.firstExamples(Math.min(5000, trainIter.totalExamples()));
            ConsoleProgress progress = new ConsoleProgress(trainIter.totalExamples(), batch, corruption.test(testIter),
                    corruption.train(IndexedArrayIterator.builder(trainSample.getFeatures(), trainSample.getLabels())
                            .indices(ExampleIndex.indicesOf(trainSample)).batchSize(512).noShuffle().build()));
            net.addListeners(progress);
            for (int e = 0; e < epochs; e++) {
                net.fit(fitIter);
                if (checkpointEvery > 0 && (e + 1) % checkpointEvery == 0 && e + 1 < epochs) {
                    File ck = runDir.resolve("checkpoint-epoch-" + (e + 1) + ".zip").toFile();
                    ModelSerializer.writeModel(net, ck, true);
                    log.info("Checkpoint saved: {}", ck);
                }
            }
            if (probes != null) {
                probes.close();
            }
            if (similarity != null) {
                similarity.close();
            }
            if (memorization != null) {
                memorization.close();
            }
            if (dynamics != null) {
                dynamics.close();
            }
            File modelFile = runDir.resolve("model.zip").toFile();
            ModelSerializer.writeModel(net, modelFile, true);
            System.out.printf("Done. Run folder: %s (model.zip, stats.dl4j). Seconds per epoch: %s%n",
                    runDir, progress.epochSecondsSummary());
            System.out.println("Reopen the dashboard later with: java -jar sample-training/target/stethoscope-sample.jar view " + statsFile);
            if (ui != null && !exitWhenDone) {
                System.out.println("The dashboard stays up at " + ui.url() + ". Press Ctrl+C to stop.");
                CountDownLatch forever = new CountDownLatch(1);
                Runtime.getRuntime().addShutdownHook(new Thread(forever::countDown));
                forever.await();
            }
        } finally {
            if (ui != null) {
                ui.close();
            }
            storage.close();
        }
        return 0;
    }

    private void validate() {
        if (epochs < 1) {
            throw new IllegalArgumentException("--epochs must be >= 1, got " + epochs);
        }
        if (batch < 1) {
            throw new IllegalArgumentException("--batch must be >= 1, got " + batch);
        }
        if (labelNoise < 0 || labelNoise >= 1) {
            throw new IllegalArgumentException("--label-noise must be in [0, 1), got " + labelNoise);
        }
        if (trainLimit < 0 || testLimit < 0) {
            throw new IllegalArgumentException("--train-limit and --test-limit must be >= 0");
        }
        if (memorizationEvery < 0 || attributionEvery < 0 || csrExamples < 1) {
            throw new IllegalArgumentException("--memorization-every and --attribution-every must be >= 0, --csr-examples >= 1");
        }
        if (probeEvery < 0 || similarityEvery < 0) {
            throw new IllegalArgumentException("--probe-every and --similarity-every must be >= 0 (0 = off)");
        }
        if (probeExamples < 4 || similarityExamples < 4) {
            throw new IllegalArgumentException("--probe-examples and --similarity-examples must be >= 4");
        }
        dev.stethoscope.probes.similarity.SimilarityMethod.parse(similarityMethod);
        ConvMode.parse(similarityConv);
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("--port must be in 0..65535, got " + port);
        }
    }
}
