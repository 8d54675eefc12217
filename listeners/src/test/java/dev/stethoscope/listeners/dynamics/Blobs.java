package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.data.ExampleIndex;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.DataSetPreProcessor;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.List;
import java.util.Random;

/** Test data: Gaussian blobs in [0, 1]^d with a few planted label flips, and a tiny MLP. */
final class Blobs {
    final int n;
    final int d;
    final int classes;
    final float[][] x;
    final int[] trueLabel;
    final int[] givenLabel;
    final long[] flipped;

    Blobs(int n, int d, int classes, int numFlipped, long seed) {
        this.n = n;
        this.d = d;
        this.classes = classes;
        Random rnd = new Random(seed);
        float[][] centres = new float[classes][d];
        for (int c = 0; c < classes; c++) {
            for (int j = 0; j < d; j++) {
                centres[c][j] = 0.2f + 0.6f * rnd.nextFloat();
            }
        }
        x = new float[n][d];
        trueLabel = new int[n];
        givenLabel = new int[n];
        for (int i = 0; i < n; i++) {
            int c = i % classes;
            trueLabel[i] = c;
            givenLabel[i] = c;
            for (int j = 0; j < d; j++) {
                x[i][j] = Math.max(0f, Math.min(1f, centres[c][j] + 0.08f * (float) rnd.nextGaussian()));
            }
        }
        flipped = new long[numFlipped];
        for (int f = 0; f < numFlipped; f++) {
            int i = 7 + f * (n / numFlipped);
            flipped[f] = i;
            givenLabel[i] = (trueLabel[i] + 1 + rnd.nextInt(classes - 1)) % classes;
        }
    }

    INDArray features(int from, int to) {
        INDArray f = Nd4j.create(DataType.FLOAT, to - from, d);
        for (int i = from; i < to; i++) {
            for (int j = 0; j < d; j++) {
                f.putScalar(i - from, j, x[i][j]);
            }
        }
        return f;
    }

    DataSet batch(int from, int to, boolean withIndices) {
        INDArray y = Nd4j.zeros(DataType.FLOAT, to - from, classes);
        long[] idx = new long[to - from];
        for (int i = from; i < to; i++) {
            y.putScalar(i - from, givenLabel[i], 1.0);
            idx[i - from] = i;
        }
        DataSet ds = new DataSet(features(from, to), y);
        if (withIndices) {
            ExampleIndex.attach(ds, idx);
        }
        return ds;
    }

    /** A plain in-memory iterator over fixed batches (fixed order, so runs are repeatable). */
    DataSetIterator iterator(int batchSize, boolean withIndices) {
        return new DataSetIterator() {
            private int pos;

            @Override
            public DataSet next(int num) {
                int to = Math.min(n, pos + num);
                DataSet ds = Blobs.this.batch(pos, to, withIndices);
                pos = to;
                return ds;
            }

            @Override
            public DataSet next() {
                return next(batchSize);
            }

            @Override
            public boolean hasNext() {
                return pos < n;
            }

            @Override
            public int inputColumns() {
                return d;
            }

            @Override
            public int totalOutcomes() {
                return classes;
            }

            @Override
            public boolean resetSupported() {
                return true;
            }

            @Override
            public boolean asyncSupported() {
                return true;
            }

            @Override
            public void reset() {
                pos = 0;
            }

            @Override
            public int batch() {
                return batchSize;
            }

            @Override
            public void setPreProcessor(DataSetPreProcessor preProcessor) {
                throw new UnsupportedOperationException();
            }

            @Override
            public DataSetPreProcessor getPreProcessor() {
                return null;
            }

            @Override
            public List<String> getLabels() {
                return null;
            }
        };
    }

    MultiLayerNetwork mlp(int hidden, double dropoutKeep, IUpdater updater, long seed) {
        NeuralNetConfiguration.ListBuilder b = new NeuralNetConfiguration.Builder()
                .seed(seed)
                .dataType(DataType.FLOAT)
                .updater(updater)
                .list()
                .layer(new DenseLayer.Builder().nIn(d).nOut(hidden).activation(Activation.RELU).build());
        if (dropoutKeep < 1) {
            b.layer(new DenseLayer.Builder().nIn(hidden).nOut(hidden).activation(Activation.RELU)
                    .dropOut(dropoutKeep).build());
        }
        MultiLayerConfiguration conf = b.layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT)
                        .nIn(hidden).nOut(classes).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }
}
