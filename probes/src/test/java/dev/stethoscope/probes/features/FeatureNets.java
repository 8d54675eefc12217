package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/** Small real DL4J networks for the feature-evolution tests (untrained, double precision). */
final class FeatureNets {
    private FeatureNets() {
    }

    /** LeNet's geometry on a flat 1x28x28 input: conv5(4) - max2 - conv5(6) - max2 - dense 10 - output 3. */
    static MultiLayerNetwork lenet(Activation act) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(7)
                .weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(4).activation(act).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(6).activation(act).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(10).activation(act).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(3).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Strided, padded, dilated conv then a Same-mode 4x4 conv (odd total padding), identity activations, on 2x13x11 images. */
    static MultiLayerNetwork oddStack() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(3)
                .weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(3, 3).stride(2, 2).padding(1, 1).dilation(2, 2).nOut(3)
                        .convolutionMode(ConvolutionMode.Truncate).activation(Activation.IDENTITY).build())
                .layer(new ConvolutionLayer.Builder(4, 4).stride(1, 1).nOut(2)
                        .convolutionMode(ConvolutionMode.Same).activation(Activation.IDENTITY).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MSE).nOut(1).activation(Activation.IDENTITY).build())
                .setInputType(InputType.convolutional(13, 11, 2)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
