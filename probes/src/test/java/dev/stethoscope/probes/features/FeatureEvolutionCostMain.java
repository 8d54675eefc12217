package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.List;

/**
 * Rough cost of the feature-evolution math on the sample's LeNet geometry (20-50-500, batch 128, synthetic
 * 28x28 inputs): the streaming top-k fed from onForwardPass, as a ratio of training iterations with and without
 * it (alternating blocks in one process), and one snapshot (16 units per layer, all 20 first-layer filters, top-9
 * deconvnet projections, weight and activation histograms, aligned PCA of the dense layer on 2000 probe points)
 * as a fraction of an estimated MNIST epoch (469 iterations). Not a test; run by hand with OMP_NUM_THREADS=1.
 */
public final class FeatureEvolutionCostMain {

    public static void main(String[] args) {
        int batch = 128;
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(1).dataType(DataType.FLOAT)
                .updater(new Adam(1e-3)).weightInit(WeightInit.XAVIER).list()
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(20).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(50).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(SubsamplingLayer.PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(500).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        int pool = 4096;
        INDArray xs = Nd4j.rand(DataType.FLOAT, pool, 28 * 28);
        INDArray ys = Nd4j.zeros(DataType.FLOAT, pool, 10);
        for (int i = 0; i < pool; i++) {
            ys.putScalar(i, i % 10, 1f);
        }
        int[] channels = {20, 20, 50, 50, 500};
        List<StreamingTopK> topKs = new ArrayList<>();
        for (int c : channels) {
            topKs.add(new StreamingTopK(c));
        }
        long[] next = {0};
        long[][] cur = {null};
        long[] inOffer = {0};
        BaseTrainingListener listener = new BaseTrainingListener() {
            @Override
            public void onForwardPass(Model model, List<INDArray> activations) {
                long t = System.nanoTime();
                for (int l = 0; l < topKs.size(); l++) {
                    topKs.get(l).offer(activations.get(l + 1), cur[0]);
                }
                inOffer[0] += System.nanoTime() - t;
            }
        };
        int block = 15;
        long with = 0;
        long without = 0;
        int it = 0;
        for (int round = 0; round < 7; round++) {
            for (int mode = 0; mode < 2; mode++) {
                net.setListeners(mode == 0 ? new BaseTrainingListener[0] : new BaseTrainingListener[]{listener});
                long t0 = System.nanoTime();
                for (int b = 0; b < block; b++, it++) {
                    int s = (it * batch) % (pool - batch);
                    long[] idx = new long[batch];
                    for (int i = 0; i < batch; i++) {
                        idx[i] = next[0]++;
                    }
                    cur[0] = idx;
                    net.fit(new DataSet(xs.get(NDArrayIndex.interval(s, s + batch)), ys.get(NDArrayIndex.interval(s, s + batch))));
                }
                long dt = System.nanoTime() - t0;
                if (round == 0) {
                    inOffer[0] = 0;
                } else { // round 0 warms up
                    if (mode == 0) {
                        without += dt;
                    } else {
                        with += dt;
                    }
                }
            }
        }
        double perIt = without / 6.0 / block;
        System.out.printf("streaming top-k: training with/without = %.4f; time inside offer / training time with it = %.4f%n",
                (double) with / without, (double) inOffer[0] / with);

        // a snapshot on a copy
        long t0 = System.nanoTime();
        MultiLayerNetwork copy = net.clone();
        DeconvProjection deconv = new DeconvProjection(copy);
        int[] layers = {0, 1, 2, 3, 4};
        for (int l : layers) {
            TopKSnapshot snap = topKs.get(l).snapshot();
            int units = l == 0 ? 20 : 16;
            for (int row = 0; row < units; row++) {
                int m = snap.examples()[row].length;
                INDArray in = Nd4j.create(DataType.FLOAT, m, 28 * 28);
                for (int j = 0; j < m; j++) {
                    in.getRow(j).assign(xs.getRow(snap.examples()[row][j] % pool));
                }
                deconv.project(in, l, snap, row, 0, m);
            }
        }
        long tProj = System.nanoTime() - t0;
        long t1 = System.nanoTime();
        INDArray probe = xs.get(NDArrayIndex.interval(0, 2000));
        List<INDArray> acts = copy.feedForward(probe, false);
        for (int l = 0; l < 5; l++) {
            FixedBinHistogram ha = FixedBinHistogram.rangeOf(acts.get(l + 1), 64, 0.5);
            ha.add(acts.get(l + 1));
            INDArray w = copy.getLayer(l).params();
            if (w != null && w.length() > 0) {
                FixedBinHistogram hw = FixedBinHistogram.rangeOf(w, 64, 0.5);
                hw.add(w);
            }
        }
        long tHist = System.nanoTime() - t1;
        long t2 = System.nanoTime();
        AlignedPca.Projection first = AlignedPca.project(acts.get(5), null);
        AlignedPca.project(acts.get(5).add(0.01), first);
        long tPca = (System.nanoTime() - t2) / 2;
        double epoch = perIt * 469;
        System.out.printf("snapshot / epoch: projections %.4f, probe pass + histograms %.4f, aligned PCA %.4f, total %.4f%n",
                tProj / epoch, tHist / epoch, tPca / epoch, (tProj + tHist + tPca) / epoch);
    }
}
