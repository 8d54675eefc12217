package dev.stethoscope.listeners;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.graph.MergeVertex;
import org.deeplearning4j.nn.conf.graph.SubsetVertex;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.MultiDataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.Random;

/**
 * The two-input fixture of the multi-input tests: MNIST-like {@value #SIDE}x{@value #SIDE} "digits" (one stroke
 * prototype per class, scaled and noised, pixels in [0, 1]) split into their top and bottom halves, a two-input graph
 * on the halves, and two one-input equivalents with the same weights.
 *
 * <p>Two-input graph ({@link #twoInput}): "top" [n, 32] -&gt; "dt" dense 12 ReLU; "bottom" [n, 32] -&gt; "db" dense 12
 * ReLU; "cat" = merge(dt, db); "h" dense 16 ReLU; "out" softmax over 10 classes. One-input equivalents of the
 * concatenated input [top | bottom] (64 values, row-major image order):
 * <ul>
 *   <li>{@link #blockEquivalent}: a MultiLayerNetwork whose first dense layer's weight matrix is the block form
 *       diag(W_dt, W_db) (zeros off the diagonal blocks), bias [b_dt | b_db]: the same function, other code paths;
 *       training it would fill the zero blocks, so it is for analyses at fixed weights;</li>
 *   <li>{@link #subsetEquivalent}: a one-input graph that cuts the halves with SubsetVertex: the same function and
 *       the same gradients with respect to every parameter, so it also trains to the same parameters.</li>
 * </ul>
 * All networks are in double precision with plain SGD, so equivalent computations agree to rounding.
 */
public final class TwoInputNets {
    /** Image side. */
    public static final int SIDE = 8;
    /** Values per half (rows 0..3 and 4..7). */
    public static final int HALF = SIDE * SIDE / 2;
    /** Classes. */
    public static final int CLASSES = 10;
    /** Width of each branch. */
    public static final int BRANCH = 12;

    private TwoInputNets() {
    }

    /** The two-input graph with seeded initial weights. */
    public static ComputationGraph twoInput(long seed) {
        ComputationGraphConfiguration conf = branchesAndHead(base(seed).graphBuilder()
                .addInputs("top", "bottom")).build();
        ComputationGraph g = new ComputationGraph(conf);
        g.init();
        return g;
    }

    /**
     * The layers of both graphs behind the vertices "top" and "bottom": a dense branch on each ("dt", "db"), merged
     * ("cat"), dense "h" and the softmax output "out".
     */
    private static ComputationGraphConfiguration.GraphBuilder branchesAndHead(ComputationGraphConfiguration.GraphBuilder b) {
        return b.addLayer("dt", dense(HALF, BRANCH), "top")
                .addLayer("db", dense(HALF, BRANCH), "bottom")
                .addVertex("cat", new MergeVertex(), "dt", "db")
                .addLayer("h", dense(2 * BRANCH, 16), "cat")
                .addLayer("out", output(), "h")
                .setOutputs("out");
    }

    /** The one-input MultiLayerNetwork with the block-form first layer and {@code g}'s weights. */
    public static MultiLayerNetwork blockEquivalent(ComputationGraph g) {
        MultiLayerConfiguration conf = base(0).list()
                .layer(dense(2 * HALF, 2 * BRANCH))
                .layer(dense(2 * BRANCH, 16))
                .layer(output())
                .build();
        MultiLayerNetwork n = new MultiLayerNetwork(conf);
        n.init();
        INDArray w = Nd4j.zeros(DataType.DOUBLE, 2 * HALF, 2 * BRANCH);
        w.get(NDArrayIndex.interval(0, HALF), NDArrayIndex.interval(0, BRANCH)).assign(g.getParam("dt_W"));
        w.get(NDArrayIndex.interval(HALF, 2 * HALF), NDArrayIndex.interval(BRANCH, 2 * BRANCH)).assign(g.getParam("db_W"));
        INDArray b = Nd4j.hstack(g.getParam("dt_b"), g.getParam("db_b"));
        n.setParam("0_W", w);
        n.setParam("0_b", b);
        n.setParam("1_W", g.getParam("h_W"));
        n.setParam("1_b", g.getParam("h_b"));
        n.setParam("2_W", g.getParam("out_W"));
        n.setParam("2_b", g.getParam("out_b"));
        return n;
    }

    /** The one-input graph cutting the concatenated input into halves with SubsetVertex, with {@code g}'s weights. */
    public static ComputationGraph subsetEquivalent(ComputationGraph g) {
        ComputationGraphConfiguration conf = branchesAndHead(base(0).graphBuilder()
                .addInputs("in")
                .addVertex("top", new SubsetVertex(0, HALF - 1), "in")
                .addVertex("bottom", new SubsetVertex(HALF, 2 * HALF - 1), "in")).build();
        ComputationGraph s = new ComputationGraph(conf);
        s.init();
        for (String p : g.paramTable().keySet()) {
            s.setParam(p, g.getParam(p));
        }
        return s;
    }

    private static NeuralNetConfiguration.Builder base(long seed) {
        return new NeuralNetConfiguration.Builder().seed(seed).dataType(DataType.DOUBLE).updater(new Sgd(0.1))
                .weightInit(WeightInit.XAVIER);
    }

    private static DenseLayer dense(int in, int out) {
        return new DenseLayer.Builder().nIn(in).nOut(out).activation(Activation.RELU).build();
    }

    private static OutputLayer output() {
        return new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(16).nOut(CLASSES)
                .activation(Activation.SOFTMAX).build();
    }

    /**
     * {@code n} MNIST-like digits [n, 64] (row-major 8x8, values in [0, 1]) with one-hot labels, example i of class
     * i % 10: its class's stroke prototype (a fixed random walk of about 14 pixels, the same for every seed) times a
     * random intensity in [0.6, 1], plus uniform noise of at most 0.15, clipped to [0, 1].
     */
    public static DataSet digits(long seed, int n) {
        double[][] proto = prototypes();
        Random r = new Random(seed);
        INDArray x = Nd4j.create(DataType.DOUBLE, n, SIDE * SIDE);
        INDArray y = Nd4j.create(DataType.DOUBLE, n, CLASSES);
        for (int i = 0; i < n; i++) {
            int c = i % CLASSES;
            double a = 0.6 + 0.4 * r.nextDouble();
            for (int p = 0; p < SIDE * SIDE; p++) {
                double v = a * proto[c][p] + 0.15 * r.nextDouble();
                x.putScalar(i, p, Math.min(1, Math.max(0, v)));
            }
            y.putScalar(i, c, 1);
        }
        return new DataSet(x, y);
    }

    private static double[][] prototypes() {
        Random r = new Random(4242);
        double[][] p = new double[CLASSES][SIDE * SIDE];
        for (int c = 0; c < CLASSES; c++) {
            int row = r.nextInt(SIDE);
            int col = r.nextInt(SIDE);
            for (int s = 0; s < 14; s++) {
                p[c][row * SIDE + col] = 1;
                switch (r.nextInt(4)) {
                    case 0 -> row = Math.min(SIDE - 1, row + 1);
                    case 1 -> row = Math.max(0, row - 1);
                    case 2 -> col = Math.min(SIDE - 1, col + 1);
                    default -> col = Math.max(0, col - 1);
                }
            }
        }
        return p;
    }

    /** The top and bottom halves of [n, 64] images: {top [n, 32], bottom [n, 32]}, copies. */
    public static INDArray[] halves(INDArray x) {
        return halves(x, HALF);
    }

    /** Columns [0, at) and [at, end) of [n, d] features, copies. */
    public static INDArray[] halves(INDArray x, int at) {
        return new INDArray[]{x.get(NDArrayIndex.all(), NDArrayIndex.interval(0, at)).dup(),
                x.get(NDArrayIndex.all(), NDArrayIndex.interval(at, x.size(1))).dup()};
    }

    /**
     * A resettable iterator over {@code data} split in halves ({@link #split}), in order, {@code batch} examples at a
     * time (the last batch may be smaller).
     */
    public static org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator iterator(DataSet data, int batch) {
        return iterator(data, batch, HALF);
    }

    /**
     * A resettable iterator over {@code data} with its features split into columns [0, at) and [at, end), in order,
     * {@code batch} examples at a time; the data set's example metadata, if any, travels with its batches.
     */
    public static org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator iterator(DataSet data, int batch, int at) {
        return new org.nd4j.linalg.dataset.api.iterator.MultiDataSetIterator() {
            private int pos;
            private org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor pre;

            private final int splitAt = at;

            @Override
            public org.nd4j.linalg.dataset.api.MultiDataSet next(int num) {
                int end = Math.min(data.numExamples(), pos + num);
                MultiDataSet m = split((DataSet) data.getRange(pos, end), splitAt);
                if (data.getExampleMetaData() != null) {
                    // the data set's example metadata (e.g. indices) travels with its batches
                    m.setExampleMetaData(new java.util.ArrayList<>(data.getExampleMetaData().subList(pos, end)));
                }
                pos = end;
                if (pre != null) {
                    pre.preProcess(m);
                }
                return m;
            }

            @Override
            public org.nd4j.linalg.dataset.api.MultiDataSet next() {
                return next(batch);
            }

            @Override
            public boolean hasNext() {
                return pos < data.numExamples();
            }

            @Override
            public void setPreProcessor(org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor p) {
                this.pre = p;
            }

            @Override
            public org.nd4j.linalg.dataset.api.MultiDataSetPreProcessor getPreProcessor() {
                return pre;
            }

            @Override
            public boolean resetSupported() {
                return true;
            }

            @Override
            public boolean asyncSupported() {
                return false;
            }

            @Override
            public void reset() {
                pos = 0;
            }
        };
    }

    /** The data set as the two-input graph takes it: features {top, bottom}, the same labels. */
    public static MultiDataSet split(DataSet d) {
        return split(d, HALF);
    }

    /** The data set with its features split into columns [0, at) and [at, end), the same labels. */
    public static MultiDataSet split(DataSet d, int at) {
        return new MultiDataSet(halves(d.getFeatures(), at), new INDArray[]{d.getLabels()});
    }
}
