package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.IdxWriter;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class ExplainCommandTest {
    @TempDir
    static Path dir;
    static Path data;
    static Path wrongData;
    static File modelFile;

    /** Writes 8x8 IDX images: class = which quadrant holds a bright block; trains and saves a small MLP. */
    @BeforeAll
    static void setUp() throws Exception {
        data = dir.resolve("idx");
        wrongData = dir.resolve("idx7");
        writeSet(data, 8, 60, 12);
        writeSet(wrongData, 7, 10, 4);
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder().seed(3).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(64).nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(4)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        dev.stethoscope.sample.data.MnistData d = dev.stethoscope.sample.data.MnistData.read(data);
        DataSet ds = new DataSet(d.train().features(), d.train().oneHotLabels(4));
        for (int i = 0; i < 30; i++) {
            net.fit(ds);
        }
        modelFile = dir.resolve("model.zip").toFile();
        ModelSerializer.writeModel(net, modelFile, false);
    }

    private static void writeSet(Path folder, int side, int nTrain, int nTest) throws Exception {
        folder.toFile().mkdirs();
        Random r = new Random(side);
        for (String[] split : new String[][]{{"train", String.valueOf(nTrain)}, {"t10k", String.valueOf(nTest)}}) {
            int n = Integer.parseInt(split[1]);
            byte[] px = new byte[n * side * side];
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                int c = i % 4;
                labels[i] = c;
                for (int y = 0; y < side; y++) {
                    for (int x = 0; x < side; x++) {
                        boolean inBlock = (y < side / 2) == (c < 2) && (x < side / 2) == (c % 2 == 0);
                        int v = inBlock ? 200 + r.nextInt(56) : r.nextInt(40);
                        px[i * side * side + y * side + x] = (byte) v;
                    }
                }
            }
            IdxWriter.writeImages(folder.resolve(split[0] + "-images-idx3-ubyte"), n, side, side, px);
            IdxWriter.writeLabels(folder.resolve(split[0] + "-labels-idx1-ubyte"), labels);
        }
    }

    private static String[] run(String... args) {
        PrintStream oldErr = System.err;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        System.setOut(new PrintStream(out, true));
        int code;
        try {
            code = Main.run(args);
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
        }
        return new String[]{String.valueOf(code), out.toString(), err.toString()};
    }

    @Test
    void writesPngAndNpyWhoseSumIsTheLogitDifference() throws Exception {
        File png = dir.resolve("out/heat.png").toFile();
        String[] r = run("explain", "--model", modelFile.toString(), "--data", data.toString(), "--index", "3",
                "--method", "ig", "--steps", "300", "--target", "3", "--out", png.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        BufferedImage img = ImageIO.read(png);
        assertThat(img.getHeight()).isEqualTo(8 * 8);
        INDArray map = Nd4j.createFromNpyFile(dir.resolve("out/heat.npy").toFile());
        assertThat(map.shape()).containsExactly(8, 8);
        // completeness through the whole command: sum(IG) = f_3(x) - f_3(0)
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(modelFile, false);
        dev.stethoscope.sample.data.MnistData d = dev.stethoscope.sample.data.MnistData.read(data);
        INDArray x = dev.stethoscope.sample.data.DataConversion.features(d.test().images(), 3, 4);
        dev.stethoscope.probes.attribution.LogitNetwork ln = new dev.stethoscope.probes.attribution.LogitNetwork(
                dev.stethoscope.probes.model.NetworkCopy.of(net));
        double delta = ln.logits(x, 1).getDouble(0, 3) - ln.logits(Nd4j.zeros(x.dataType(), 1, 64), 1).getDouble(0, 3);
        assertThat(map.sumNumber().doubleValue()).isCloseTo(delta, within(0.01 * Math.abs(delta) + 1e-3));
        // the bright block of class 3 (bottom right) carries the most positive relevance
        int arg = map.reshape(64).argMax().getInt(0);
        assertThat(arg / 8).isGreaterThanOrEqualTo(4);
        assertThat(arg % 8).isGreaterThanOrEqualTo(4);
        assertThat(r[1]).contains("completeness gap");
    }

    /** A saved residual ComputationGraph (conv, add, global pooling) is read and explained like a MultiLayerNetwork. */
    @Test
    void explainsASavedComputationGraph() throws Exception {
        var conf = new NeuralNetConfiguration.Builder().seed(4).updater(new Adam(1e-2))
                .convolutionMode(org.deeplearning4j.nn.conf.ConvolutionMode.Same).graphBuilder()
                .addInputs("img").setInputTypes(org.deeplearning4j.nn.conf.inputs.InputType.convolutionalFlat(8, 8, 1))
                .addLayer("c1", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).nOut(4)
                        .activation(Activation.RELU).build(), "img")
                .addLayer("c2", new org.deeplearning4j.nn.conf.layers.ConvolutionLayer.Builder(3, 3).nOut(4)
                        .activation(Activation.IDENTITY).build(), "c1")
                .addVertex("add", new org.deeplearning4j.nn.conf.graph.ElementWiseVertex(
                        org.deeplearning4j.nn.conf.graph.ElementWiseVertex.Op.Add), "c1", "c2")
                .addLayer("relu", new org.deeplearning4j.nn.conf.layers.ActivationLayer.Builder()
                        .activation(Activation.RELU).build(), "add")
                .addLayer("fc", new DenseLayer.Builder().nOut(16).activation(Activation.RELU).build(), "relu")
                .addLayer("out", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(4)
                        .activation(Activation.SOFTMAX).build(), "fc")
                .setOutputs("out").build();
        var graph = new org.deeplearning4j.nn.graph.ComputationGraph(conf);
        graph.init();
        dev.stethoscope.sample.data.MnistData d = dev.stethoscope.sample.data.MnistData.read(data);
        DataSet ds = new DataSet(d.train().features(), d.train().oneHotLabels(4));
        for (int i = 0; i < 20; i++) {
            graph.fit(ds);
        }
        File graphFile = dir.resolve("graph.zip").toFile();
        ModelSerializer.writeModel(graph, graphFile, false);
        File png = dir.resolve("g/heat.png").toFile();
        String[] r = run("explain", "--model", graphFile.toString(), "--data", data.toString(), "--index", "2",
                "--method", "ig", "--steps", "300", "--target", "2", "--out", png.toString());
        assertThat(r[0]).as(r[2]).isEqualTo("0");
        INDArray map = Nd4j.createFromNpyFile(dir.resolve("g/heat.npy").toFile());
        assertThat(map.shape()).containsExactly(8, 8);
        INDArray x = dev.stethoscope.sample.data.DataConversion.features(d.test().images(), 2, 3);
        dev.stethoscope.probes.attribution.LogitNetwork ln = new dev.stethoscope.probes.attribution.LogitNetwork(
                dev.stethoscope.probes.model.NetworkCopy.of(graph));
        double delta = ln.logits(x, 1).getDouble(0, 2) - ln.logits(Nd4j.zeros(x.dataType(), 1, 64), 1).getDouble(0, 2);
        assertThat(map.sumNumber().doubleValue()).isCloseTo(delta, within(0.01 * Math.abs(delta) + 1e-3));
        assertThat(r[1]).contains("completeness gap");
        String[] shape = run("explain", "--model", graphFile.toString(), "--data", wrongData.toString(), "--index", "0",
                "--out", png.toString());
        assertThat(shape[2]).contains("Wrong input shape").contains("64");

        // two inputs: refused, naming them
        var two = new NeuralNetConfiguration.Builder().graphBuilder().addInputs("a", "b")
                .addVertex("cat", new org.deeplearning4j.nn.conf.graph.MergeVertex(), "a", "b")
                .addLayer("out", new OutputLayer.Builder().nIn(64).nOut(4).activation(Activation.SOFTMAX).build(), "cat")
                .setOutputs("out").build();
        var g2 = new org.deeplearning4j.nn.graph.ComputationGraph(two);
        g2.init();
        File twoFile = dir.resolve("two.zip").toFile();
        ModelSerializer.writeModel(g2, twoFile, false);
        String[] refused = run("explain", "--model", twoFile.toString(), "--data", data.toString(), "--index", "0",
                "--out", png.toString());
        assertThat(refused[0]).isEqualTo("1");
        assertThat(refused[2]).contains("inputs [a, b]");
    }

    @Test
    void clearErrors() {
        String png = dir.resolve("e.png").toString();
        String[] unknown = run("explain", "--model", modelFile.toString(), "--data", data.toString(), "--index", "0",
                "--method", "shap", "--out", png);
        assertThat(unknown[0]).isEqualTo("1");
        assertThat(unknown[2]).contains("Unknown method 'shap'").contains("lrp-eps").contains("gradcam");
        String[] missing = run("explain", "--model", dir.resolve("nope.zip").toString(), "--data", data.toString(),
                "--index", "0", "--out", png);
        assertThat(missing[0]).isEqualTo("1");
        assertThat(missing[2]).contains("No such model file");
        String[] shape = run("explain", "--model", modelFile.toString(), "--data", wrongData.toString(), "--index", "0",
                "--out", png);
        assertThat(shape[0]).isEqualTo("1");
        assertThat(shape[2]).contains("Wrong input shape").contains("64").contains("7x7");
        String[] index = run("explain", "--model", modelFile.toString(), "--data", data.toString(), "--index", "99",
                "--out", png);
        assertThat(index[2]).contains("out of range");
        String[] lrp = run("explain", "--model", modelFile.toString(), "--data", data.toString(), "--index", "1",
                "--method", "lrp-eps", "--out", png);
        assertThat(lrp[0]).as(lrp[2]).isEqualTo("0");
    }
}
