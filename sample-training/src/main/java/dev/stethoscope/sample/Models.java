package dev.stethoscope.sample;

import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
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

/** The sample's two networks, as measured in DL4J_NOTES.md (Adam 1e-3). */
public final class Models {
    private Models() {
    }

    /** The model choices of the command line. */
    public enum Kind {
        mlp, cnn
    }

    /** Builds and initialises the chosen model for images of rows x cols and the given number of classes. */
    public static MultiLayerNetwork build(Kind kind, long seed, int rows, int cols, int classes) {
        MultiLayerNetwork net = new MultiLayerNetwork(kind == Kind.mlp
                ? mlp(seed, rows * cols, classes) : lenet(seed, rows, cols, classes));
        net.init();
        return net;
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
