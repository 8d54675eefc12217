package dev.stethoscope.sample;

import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Not a test: writes a layer's activations on the first N MNIST test images as a float64 .npy matrix
 * (neurons x data points), for checking the {@code similarity} command against google/svcca
 * (docs/PROBES_AND_SIMILARITY.md). Args: model.zip layerIndex N out.npy
 */
public final class DumpActivationsMain {
    public static void main(String[] args) throws IOException {
        MultiLayerNetwork net = ModelSerializer.restoreMultiLayerNetwork(Path.of(args[0]).toFile(), false);
        int layer = Integer.parseInt(args[1]);
        int n = Integer.parseInt(args[2]);
        MnistData data = MnistData.load(null, MnistData.cacheDir(null));
        INDArray x = DataConversion.features(data.test().images(), 0, n);
        INDArray act = net.feedForwardToLayer(layer, x, false).get(layer + 1).castTo(DataType.DOUBLE).transpose().dup('c');
        System.out.println("layer " + layer + " (" + net.getLayer(layer).conf().getLayer().getLayerName() + "): "
                + act.rows() + " x " + act.columns());
        write(Path.of(args[3]), act);
    }

    static void write(Path file, INDArray m) throws IOException {
        String header = "{'descr': '<f8', 'fortran_order': False, 'shape': (" + m.rows() + ", " + m.columns() + "), }";
        int pad = 16 - (10 + header.length() + 1) % 16;
        header = header + " ".repeat(pad % 16) + "\n";
        double[] d = m.data().asDouble();
        ByteBuffer b = ByteBuffer.allocate(d.length * 8).order(ByteOrder.LITTLE_ENDIAN);
        b.asDoubleBuffer().put(d);
        try (DataOutputStream out = new DataOutputStream(Files.newOutputStream(file))) {
            out.write(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
            out.write(header.length() & 0xff);
            out.write(header.length() >> 8);
            out.write(header.getBytes(StandardCharsets.US_ASCII));
            out.write(b.array());
        }
    }
}
