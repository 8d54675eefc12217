package dev.stethoscope.sample;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.shade.jackson.databind.JsonNode;
import org.nd4j.shade.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;

/**
 * Networks brought as DL4J's own configuration JSON ({@code MultiLayerConfiguration.toJson()} or
 * {@code ComputationGraphConfiguration.toJson()}): {@code train --config FILE} and the
 * {@code bench-assertions} suite build their networks here. {@link #check} tells, before
 * training, whether the network takes the data's flat images and gives one score per class,
 * with a message saying what to change when it does not.
 */
public final class ConfigModels {
    private ConfigModels() {
    }

    /** Reads {@code file} and builds the initialised network it configures (see {@link #fromJson}). */
    public static Model load(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new IllegalArgumentException("--config " + file + ": no such file");
        }
        try {
            return fromJson(Files.readString(file, StandardCharsets.UTF_8));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("--config " + file + ": " + e.getMessage(), e);
        }
    }

    /**
     * The initialised network of a configuration JSON: a {@link ComputationGraph} when the JSON has
     * {@code vertices}, a {@link MultiLayerNetwork} when it has {@code confs}.
     *
     * @throws IllegalArgumentException when the text is not JSON or not one of DL4J's two configuration kinds
     */
    public static Model fromJson(String json) {
        JsonNode root;
        try {
            root = new ObjectMapper().readTree(json);
        } catch (IOException e) {
            throw new IllegalArgumentException("not JSON (" + e.getMessage().lines().findFirst().orElse("") + ")", e);
        }
        if (root == null || !root.isObject()) {
            throw new IllegalArgumentException(NOT_A_CONFIG);
        }
        try {
            if (root.has("vertices") && root.has("networkInputs")) {
                ComputationGraph g = new ComputationGraph(ComputationGraphConfiguration.fromJson(json));
                g.init();
                return g;
            }
            if (root.has("confs")) {
                MultiLayerNetwork n = new MultiLayerNetwork(MultiLayerConfiguration.fromJson(json));
                n.init();
                return n;
            }
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("DL4J could not build the configuration: " + e.getMessage(), e);
        }
        throw new IllegalArgumentException(NOT_A_CONFIG);
    }

    private static final String NOT_A_CONFIG = "not a DL4J network configuration: expected the JSON of "
            + "MultiLayerConfiguration.toJson() (with \"confs\") or ComputationGraphConfiguration.toJson() "
            + "(with \"vertices\" and \"networkInputs\")";

    /**
     * Checks that {@code net} takes examples of {@code rows x cols} values given flat (one row of
     * {@code rows * cols} per example, as the sample's data) and outputs {@code classes} scores:
     * first from the configuration (first layer's nIn, a convolution without an input
     * preprocessor), then with a forward pass of one zero example.
     *
     * @throws IllegalArgumentException saying what the network expects and how to configure it
     */
    public static void check(Model net, int rows, int cols, int classes) {
        int flat = rows * cols;
        String fix = String.format(Locale.ROOT, "the data has %d values per example (%dx%dx1 images, given flat): "
                + "configure the network with setInputType(InputType.feedForward(%d)) or "
                + "setInputType(InputType.convolutionalFlat(%d, %d, 1))", flat, rows, cols, flat, rows, cols);
        if (net instanceof MultiLayerNetwork mln) {
            MultiLayerConfiguration conf = mln.getLayerWiseConfigurations();
            Layer first = conf.getConf(0).getLayer();
            InputPreProcessor pre = conf.getInputPreProcess(0);
            if (pre instanceof FeedForwardToCnnPreProcessor p) {
                long want = p.getInputHeight() * p.getInputWidth() * p.getNumChannels();
                if (want != flat) {
                    throw new IllegalArgumentException(String.format(Locale.ROOT, "The network's input is %dx%dx%d "
                            + "images (%d values), but %s", p.getInputHeight(), p.getInputWidth(), p.getNumChannels(), want, fix));
                }
            } else if (first instanceof ConvolutionLayer) {
                throw new IllegalArgumentException("The network's first layer is a convolution without an input "
                        + "preprocessor, so it expects [batch, channels, height, width] arrays, but " + fix);
            } else if (pre == null && first instanceof FeedForwardLayer ff && ff.getNIn() > 0 && ff.getNIn() != flat) {
                throw new IllegalArgumentException(String.format(Locale.ROOT, "The network's first layer takes %d "
                        + "inputs (nIn), but %s", ff.getNIn(), fix));
            }
        } else if (net instanceof ComputationGraph cg) {
            int inputs = cg.getConfiguration().getNetworkInputs().size();
            int outputs = cg.getConfiguration().getNetworkOutputs().size();
            if (outputs != 1) {
                throw new IllegalArgumentException("The graph has " + inputs + " input(s) and " + outputs
                        + " output(s); the sample trains graphs with one output");
            }
            if (inputs > 1) {
                long[] sizes;
                try {
                    sizes = dev.stethoscope.probes.model.GraphInputs.inputSizes(cg);
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("The graph's inputs " + cg.getConfiguration().getNetworkInputs()
                            + " must be flat (the data's examples are split into them): " + e.getMessage(), e);
                }
                if (java.util.Arrays.stream(sizes).sum() != flat) {
                    throw new IllegalArgumentException("The graph's inputs " + cg.getConfiguration().getNetworkInputs()
                            + " take " + java.util.Arrays.toString(sizes) + " values per example; the data's " + flat
                            + " values of each example are split into them in this order, so they must add up to " + flat);
                }
            }
        } else {
            throw new IllegalArgumentException("Unsupported model " + net.getClass().getName());
        }
        INDArray x = Nd4j.zeros(net instanceof MultiLayerNetwork m ? m.getLayerWiseConfigurations().getDataType()
                : ((ComputationGraph) net).getConfiguration().getDataType(), 1, flat);
        INDArray out;
        try {
            out = net instanceof MultiLayerNetwork m ? m.output(x) : ((ComputationGraph) net).outputSingle(
                    dev.stethoscope.probes.model.GraphInputs.split((ComputationGraph) net, x));
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("The network does not take the data's input: " + fix
                    + ". DL4J said: " + e.getMessage(), e);
        }
        if (out.rank() != 2 || out.size(1) != classes) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "The network's output has shape %s per "
                    + "example, but the data has %d classes: the output layer needs nOut(%d)",
                    java.util.Arrays.toString(out.shape()), classes, classes));
        }
    }

    /** One epoch of {@code net} over {@code data} (MultiLayerNetwork or ComputationGraph). */
    public static void fit(Model net, DataSetIterator data) {
        if (net instanceof MultiLayerNetwork m) {
            m.fit(data);
        } else if (((ComputationGraph) net).getConfiguration().getNetworkInputs().size() > 1) {
            // several inputs: the data's examples are the joint form of the inputs (e.g. --model twoview)
            ComputationGraph g = (ComputationGraph) net;
            g.fit(new dev.stethoscope.sample.data.JointSplitIterator(data, g));
        } else {
            ((ComputationGraph) net).fit(data);
        }
    }

    /** Completed epochs of {@code net}. */
    public static int epochCount(Model net) {
        return net instanceof MultiLayerNetwork m ? m.getEpochCount() : ((ComputationGraph) net).getEpochCount();
    }
}
