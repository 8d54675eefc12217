package dev.stethoscope.sample;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.ElementWiseVertex;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * The sample's networks (Adam 1e-3): the MLP and LeNet MultiLayerNetworks measured in DL4J_NOTES.md, a small
 * residual ComputationGraph ({@link #resnet}) and a two-input ComputationGraph on each digit's top and bottom halves
 * ({@link #twoview}).
 */
public final class Models {
    private Models() {
    }

    /** The model choices of the command line. */
    public enum Kind {
        mlp, cnn, resnet, twoview;

        /** True for a model built as a ComputationGraph. */
        public boolean isGraph() {
            return this == resnet || this == twoview;
        }
    }

    /**
     * Builds and initialises the chosen MultiLayerNetwork model for images of rows x cols and the given number of
     * classes.
     *
     * @throws IllegalArgumentException for {@link Kind#resnet}, a ComputationGraph ({@link #buildModel})
     */
    public static MultiLayerNetwork build(Kind kind, long seed, int rows, int cols, int classes) {
        if (kind.isGraph()) {
            throw new IllegalArgumentException("Model '" + kind + "' is a ComputationGraph; this command supports the "
                    + "MultiLayerNetwork models " + java.util.Arrays.stream(Kind.values()).filter(k -> !k.isGraph()).toList());
        }
        MultiLayerNetwork net = new MultiLayerNetwork(kind == Kind.mlp
                ? mlp(seed, rows * cols, classes) : lenet(seed, rows, cols, classes));
        net.init();
        return net;
    }

    /** Builds and initialises any model: a MultiLayerNetwork (mlp, cnn) or a ComputationGraph (resnet, twoview). */
    public static Model buildModel(Kind kind, long seed, int rows, int cols, int classes) {
        if (kind.isGraph()) {
            ComputationGraph g = new ComputationGraph(kind == Kind.resnet ? resnet(seed, rows, cols, classes)
                    : twoview(seed, rows, cols, classes));
            g.init();
            return g;
        }
        return build(kind, seed, rows, cols, classes);
    }

    /** Width (channels) of the residual network's convolutions. */
    public static final int RESNET_WIDTH = 24;

    /**
     * A small residual network as a ComputationGraph, on flat input (Adam 3e-3): conv stem 3x3x24 stride 2 ReLU
     * and max pool 2x2 (28x28 becomes 7x7); two
     * residual blocks, each conv 3x3 ReLU then conv 3x3 (identity) added to the block's input by an
     * ElementWiseVertex Add, then ReLU (an ActivationLayer); global average pooling; softmax output. No batch
     * normalisation, so input-gradient analyses (which run layers in training mode) see inference behaviour.
     * Vertices: stem, stem-pool, b1-conv1, b1-conv2, b1-add, b1-relu, b2-conv1, b2-conv2, b2-add, b2-relu, gap,
     * output.
     */
    public static ComputationGraphConfiguration resnet(long seed, int rows, int cols, int classes) {
        int w = RESNET_WIDTH;
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(3e-3))
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Same)
                .graphBuilder()
                .addInputs("input")
                .setInputTypes(InputType.convolutionalFlat(rows, cols, 1))
                .addLayer("stem", new ConvolutionLayer.Builder(3, 3).stride(2, 2).nOut(w).activation(Activation.RELU)
                        .build(), "input")
                .addLayer("stem-pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX)
                        .kernelSize(2, 2).stride(2, 2).convolutionMode(ConvolutionMode.Truncate).build(), "stem");
        String in = "stem-pool";
        for (int blk = 1; blk <= 2; blk++) {
            String p = "b" + blk + "-";
            b.addLayer(p + "conv1", new ConvolutionLayer.Builder(3, 3).nOut(w).activation(Activation.RELU).build(), in)
                    .addLayer(p + "conv2", new ConvolutionLayer.Builder(3, 3).nOut(w).activation(Activation.IDENTITY)
                            .build(), p + "conv1")
                    .addVertex(p + "add", new ElementWiseVertex(ElementWiseVertex.Op.Add), in, p + "conv2")
                    .addLayer(p + "relu", new ActivationLayer.Builder().activation(Activation.RELU).build(), p + "add");
            in = p + "relu";
        }
        return b.addLayer("gap", new GlobalPoolingLayer.Builder(PoolingType.AVG).build(), in)
                .addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(classes).activation(Activation.SOFTMAX).build(), "gap")
                .setOutputs("output")
                .build();
    }

    /** Filters of each half's convolution in {@link #twoview}. */
    public static final int TWOVIEW_FILTERS = 12;

    /**
     * A ComputationGraph with two inputs (Adam 1e-3): each digit's top half ("top", rows 0..rows/2-1) and bottom half
     * ("bottom", the other rows), each given flat ({@code InputType.convolutionalFlat(rows/2, cols, 1)}); per half a
     * conv 5x5x12 ReLU ("top-conv", "bottom-conv") and a max pool 2x2 ("top-pool", "bottom-pool"); the halves'
     * channels merged ("merge", a MergeVertex: 24 channels of 5x12 on MNIST); a conv 3x3x16 ReLU over both halves
     * ("mix": each unit sees a window of the top and of the bottom half); dense 64 ReLU ("dense"); softmax output.
     * The joint form of its inputs (top then bottom, each flattened) is the flat image itself, so held-out sets and
     * the monitors' probe data are the flat images as for the other models; the sample trains it through
     * {@link dev.stethoscope.sample.data.JointSplitIterator}.
     */
    public static ComputationGraphConfiguration twoview(long seed, int rows, int cols, int classes) {
        int top = rows / 2;
        int bottom = rows - top;
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(1e-3))
                .weightInit(WeightInit.RELU)
                .convolutionMode(ConvolutionMode.Truncate)
                .graphBuilder()
                .addInputs("top", "bottom")
                .setInputTypes(InputType.convolutionalFlat(top, cols, 1), InputType.convolutionalFlat(bottom, cols, 1))
                .addLayer("top-conv", new ConvolutionLayer.Builder(5, 5).nOut(TWOVIEW_FILTERS).activation(Activation.RELU)
                        .build(), "top")
                .addLayer("bottom-conv", new ConvolutionLayer.Builder(5, 5).nOut(TWOVIEW_FILTERS)
                        .activation(Activation.RELU).build(), "bottom")
                .addLayer("top-pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2)
                        .stride(2, 2).build(), "top-conv")
                .addLayer("bottom-pool", new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2)
                        .stride(2, 2).build(), "bottom-conv")
                .addVertex("merge", new org.deeplearning4j.nn.conf.graph.MergeVertex(), "top-pool", "bottom-pool")
                .addLayer("mix", new ConvolutionLayer.Builder(3, 3).nOut(16).activation(Activation.RELU).build(), "merge")
                .addLayer("dense", new DenseLayer.Builder().nOut(64).activation(Activation.RELU).build(), "mix")
                .addLayer("output", new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nOut(classes).activation(Activation.SOFTMAX).build(), "dense")
                .setOutputs("output")
                .build();
    }

    /** MLP: input - dense 512 ReLU - softmax output. */
    public static MultiLayerConfiguration mlp(long seed, int inputs, int classes) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(1e-3))
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new DenseLayer.Builder().name("dense").nIn(inputs).nOut(512).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("output")
                        .nOut(classes).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.feedForward(inputs))
                .build();
    }

    /** LeNet: conv 5x5x20 - max 2x2 - conv 5x5x50 - max 2x2 - dense 500 ReLU - softmax output; flat input. */
    public static MultiLayerConfiguration lenet(long seed, int rows, int cols, int classes) {
        return new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(new Adam(1e-3))
                .weightInit(WeightInit.XAVIER)
                .list()
                .layer(new ConvolutionLayer.Builder(5, 5).name("conv1").nOut(20).stride(1, 1)
                        .activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool1")
                        .kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(5, 5).name("conv2").nOut(50).stride(1, 1)
                        .activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).name("pool2")
                        .kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("dense").nOut(500).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("output")
                        .nOut(classes).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(rows, cols, 1))
                .build();
    }
}
