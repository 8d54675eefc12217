package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code train --config FILE} through the command-line entry point on real MNIST slices: a
 * MultiLayerConfiguration's JSON trains with every monitor of the preset plus the assertions; a
 * ComputationGraphConfiguration's JSON trains with the monitors that support graphs, the others
 * listed with their reason; a network whose input does not take MNIST's 784 values is refused
 * before training with a message saying what to configure.
 */
class TrainConfigTest {
    static String mlpJson(int nIn) {
        return new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT).updater(new Adam(1e-3)).list()
                .layer(new DenseLayer.Builder().nIn(nIn).nOut(32).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT).nIn(32).nOut(10).activation(Activation.SOFTMAX).build())
                .build().toJson();
    }

    /** A graph MLP trained with SGD 0.05, a learning rate the lint warns about (so the assertions leave a record). */
    static String graphJson() {
        return new NeuralNetConfiguration.Builder().seed(3).dataType(DataType.FLOAT).updater(new Sgd(0.05)).graphBuilder()
                .addInputs("in")
                .addLayer("dense", new DenseLayer.Builder().nOut(32).activation(Activation.RELU).build(), "in")
                .addLayer("out", new OutputLayer.Builder(LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("out").setInputTypes(InputType.feedForward(784)).build().toJson();
    }

    static String[] train(MnistData mnist, Path config, Path out, String... more) {
        List<String> a = new java.util.ArrayList<>(List.of("train", "--config", config.toString(), "--train-limit", "512",
                "--test-limit", "256", "--epochs", "2", "--batch", "64", "--no-ui", "--probe-examples", "200",
                "--csr-examples", "20", "--data", mnist.directory().toString(), "--out", out.toString()));
        a.addAll(List.of(more));
        return BadInputTest.run(a.toArray(String[]::new));
    }

    /** Writes {@code json} to {@code tmp/name} and trains it ({@link #train}) into the run folder {@code tmp/run}. */
    private static String[] trainConfig(Path tmp, String name, String json) throws Exception {
        Path config = tmp.resolve(name);
        Files.writeString(config, json);
        return train(MnistFixture.mnist(), config, tmp.resolve("run"));
    }

    @Test
    void multiLayerConfigTrainsWithEveryMonitor(@TempDir Path tmp) throws Exception {
        String[] r = trainConfig(tmp, "mlp.json", mlpJson(784));
        Path run = tmp.resolve("run");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("mlp.json (MultiLayerNetwork)").contains("assertions").contains("training-dynamics");
        assertThat(run.resolve(TrainCommand.SKIPPED_FILE)).doesNotExist();
        MultiLayerNetwork saved = ModelSerializer.restoreMultiLayerNetwork(run.resolve("model.zip").toFile());
        assertThat(saved.getEpochCount()).isEqualTo(2);
        assertThat(saved.getLayerWiseConfigurations().getConf(0).getLayer().getUpdaterByParam("W"))
                .isEqualTo(new Adam(1e-3));
        assertRecords(run, (storage, session) -> { });
    }

    @Test
    void graphConfigTrainsWithTheMonitorsThatSupportIt(@TempDir Path tmp) throws Exception {
        String[] r = trainConfig(tmp, "graph.json", graphJson());
        Path run = tmp.resolve("run");
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("graph.json (ComputationGraph)").contains("training-dynamics").contains("memorization")
                .doesNotContain("not attached: TrainingDynamics").doesNotContain("not attached: Memorization");
        assertNotSkipped(run, "TrainingDynamics", "Memorization");
        ComputationGraph saved = ModelSerializer.restoreComputationGraph(run.resolve("model.zip").toFile());
        assertThat(saved.getEpochCount()).isEqualTo(2);
        assertRecords(run, (storage, session) -> {
            assertThat(payloads(storage, session, AssertionFinding.class)).extracting(AssertionFinding::detector)
                    .contains("config-learning-rate");
            assertThat(payloads(storage, session, Memorization.class)).isNotEmpty();
        });
    }

    /**
     * {@code --model resnet}: the sample's residual graph trains through the same path with memorisation (CSR through
     * interval bounds over its vertices) and suspects attached; monitors that need a MultiLayerNetwork are listed.
     */
    @Test
    void residualGraphModelTrainsWithTheMonitorsThatSupportIt(@TempDir Path tmp) throws Exception {
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        String[] r = BadInputTest.run(new String[]{"train", "--model", "resnet", "--train-limit", "256", "--test-limit",
                "128", "--epochs", "1", "--batch", "64", "--no-ui", "--probe-examples", "100", "--csr-examples", "10",
                "--memorization-every", "1",
                "--data", mnist.directory().toString(), "--out", run.toString()});
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        assertThat(r[1]).contains("(ComputationGraph)").contains("training-dynamics").contains("memorization");
        assertNotSkipped(run, "TrainingDynamics", "Memorization");
        ComputationGraph saved = ModelSerializer.restoreComputationGraph(run.resolve("model.zip").toFile());
        assertThat(saved.getEpochCount()).isEqualTo(1);
        assertThat(saved.getVertices()).anySatisfy(v -> assertThat(v.getClass().getSimpleName()).contains("ElementWise"));
        assertRecords(run, (storage, session) -> {
            List<Memorization> m = payloads(storage, session, Memorization.class);
            assertThat(m).isNotEmpty();
            // interval bounds through the residual graph: the CSR is computed, with certification available
            assertThat(m.get(m.size() - 1).csrExamples()).isEqualTo(10);
        });
    }

    /** Checks on one run's records. */
    private interface RecordChecks {
        void check(FileStatsStorage storage, String session) throws Exception;
    }

    /**
     * Opens the stats file of the run folder {@code run} (named "run"), checks that it holds health and suspects
     * records, runs {@code more} on its session and closes it.
     */
    private static void assertRecords(Path run, RecordChecks more) throws Exception {
        FileStatsStorage storage = new FileStatsStorage(run.resolve("stats.dl4j").toFile());
        try {
            String session = TrainAndViewTest.sessionOf(storage, "run");
            assertThat(storage.getAllUpdatesAfter(session, Health.TYPE_ID, 0)).isNotEmpty();
            assertThat(storage.getAllUpdatesAfter(session, Suspects.TYPE_ID, 0)).isNotEmpty();
            more.check(storage, session);
        } finally {
            storage.close();
        }
    }

    /** The payloads of the session's update records of {@code type}, by time. */
    private static <P extends Record> List<P> payloads(FileStatsStorage storage, String session, Class<P> type) {
        return StethoscopeRecord.payloads(RecordReader.updates(storage, session, RecordTypes.typeIdOf(type), 0), type);
    }

    /** The run's list of monitors left out (if any) names none of {@code monitors}. */
    private static void assertNotSkipped(Path run, String... monitors) throws Exception {
        Path f = run.resolve(TrainCommand.SKIPPED_FILE);
        if (!Files.exists(f)) {
            return;
        }
        for (String line : Files.readAllLines(f)) {
            for (String m : monitors) {
                assertThat(line).as("skipped monitors").doesNotStartWith(m + "\t");
            }
        }
    }

    @Test
    void aConfigThatDoesNotTakeMnistIsRefusedBeforeTraining(@TempDir Path tmp) throws Exception {
        String[] r = trainConfig(tmp, "wrong.json", mlpJson(100));
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("takes 100 inputs").contains("784 values per example")
                .contains("InputType.feedForward(784)").doesNotContain("\tat ");
        assertThat(tmp.resolve("run").resolve("model.zip")).doesNotExist();

        Path config = tmp.resolve("wrong.json");
        Files.writeString(config, "{\"not\": \"a configuration\"}");
        r = train(MnistFixture.mnist(), config, tmp.resolve("run2"));
        assertThat(r[0]).isEqualTo("1");
        assertThat(r[2]).contains("not a DL4J network configuration");
    }
}
