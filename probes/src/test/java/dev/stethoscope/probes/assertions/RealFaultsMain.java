package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * Prints the findings of the default detectors on small real trainings, healthy and with one
 * injected fault each (a first look before the bench-assertions suite). Run from the probes
 * module with the test classpath; about a minute on one thread.
 */
public final class RealFaultsMain {
    private RealFaultsMain() {
    }

    static MultiLayerNetwork mlp(IUpdater u, Activation hidden, int depth, Activation out, LossFunction loss, long seed) {
        var b = new NeuralNetConfiguration.Builder().seed(seed).updater(u)
                .weightInit(hidden == Activation.RELU ? WeightInit.RELU : WeightInit.XAVIER).list();
        int nIn = RealTrainingTest.FEATURES;
        for (int i = 0; i < depth; i++) {
            b.layer(new DenseLayer.Builder().nIn(nIn).nOut(32).activation(hidden).build());
            nIn = 32;
        }
        b.layer(new OutputLayer.Builder(loss).nIn(nIn).nOut(RealTrainingTest.CLASSES).activation(out).build());
        MultiLayerNetwork net = new MultiLayerNetwork(b.validateOutputLayerConfig(false).build());
        net.init();
        return net;
    }

    /** One training; {@code blobSeed} is the seed of the blobs its data is drawn from (the validation set uses the same blobs). */
    record Case(String name, boolean healthy, Supplier<MultiLayerNetwork> net, Supplier<List<DataSet>> data, int epochs, long blobSeed) {
        Case(String name, boolean healthy, Supplier<MultiLayerNetwork> net, Supplier<List<DataSet>> data, int epochs) {
            this(name, healthy, net, data, epochs, 1);
        }
    }

    /** 60 % of the labels replaced by a random class. */
    static List<DataSet> noisy(List<DataSet> d, long seed) {
        java.util.Random r = new java.util.Random(seed);
        d.forEach(ds -> {
            for (int i = 0; i < ds.numExamples(); i++) {
                if (r.nextDouble() < 0.6) {
                    ds.getLabels().getRow(i).assign(0).putScalar(r.nextInt(RealTrainingTest.CLASSES), 1);
                }
            }
        });
        return d;
    }

    public static void main(String[] args) {
        List<Case> cases = new ArrayList<>();
        for (long seed = 1; seed <= 3; seed++) {
            final long s = seed;
            cases.add(new Case("healthy relu sgd 0.01 seed " + s, true,
                    () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, s), () -> RealTrainingTest.blobs(10, s), 20, s));
            cases.add(new Case("healthy tanh adam 1e-3 seed " + s, true,
                    () -> mlp(new Adam(1e-3), Activation.TANH, 2, Activation.SOFTMAX, LossFunction.MCXENT, s), () -> RealTrainingTest.blobs(10, s), 20, s));
        }
        cases.add(new Case("healthy relu sgd 0.1", true,
                () -> mlp(new Sgd(0.1), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("lr 10", false, () -> mlp(new Sgd(10), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("lr 1e-7", false, () -> mlp(new Sgd(1e-7), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("relu bias -10", false, () -> RealTrainingTest.net(new Sgd(0.01), -10), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("deep sigmoid (8 layers)", false, () -> mlp(new Sgd(0.01), Activation.SIGMOID, 8, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("oversized init N(0,0.6) relu x6", false, () -> {
            var b = new NeuralNetConfiguration.Builder().seed(1).updater(new Sgd(0.01))
                    .weightInit(new org.deeplearning4j.nn.conf.distribution.NormalDistribution(0, 0.6)).list();
            int nIn = RealTrainingTest.FEATURES;
            for (int i = 0; i < 6; i++) {
                b.layer(new DenseLayer.Builder().nIn(nIn).nOut(32).activation(Activation.RELU).build());
                nIn = 32;
            }
            b.layer(new OutputLayer.Builder(LossFunction.MCXENT).nIn(nIn).nOut(RealTrainingTest.CLASSES).activation(Activation.SOFTMAX).build());
            MultiLayerNetwork net = new MultiLayerNetwork(b.build());
            net.init();
            return net;
        }, () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("softmax + MSE", false, () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MSE, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("sigmoid + MCXENT", false, () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SIGMOID, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("inputs x 255", false, () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> {
            List<DataSet> d = RealTrainingTest.blobs(10, 1);
            d.forEach(ds -> ds.getFeatures().muli(255));
            return d;
        }, 20));
        cases.add(new Case("tanh, inputs x 255", false, () -> mlp(new Sgd(0.01), Activation.TANH, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> {
            List<DataSet> d = RealTrainingTest.blobs(10, 1);
            d.forEach(ds -> ds.getFeatures().muli(255));
            return d;
        }, 20));
        cases.add(new Case("lr 1.0", false, () -> mlp(new Sgd(1.0), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("lr 3.0", false, () -> mlp(new Sgd(3.0), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> RealTrainingTest.blobs(10, 1), 20));
        cases.add(new Case("lr 1.0, 60 % label noise", false, () -> mlp(new Sgd(1.0), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1),
                () -> noisy(RealTrainingTest.blobs(10, 1), 5), 20));
        cases.add(new Case("all labels class 0", false, () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> {
            List<DataSet> d = RealTrainingTest.blobs(10, 1);
            d.forEach(ds -> {
                ds.getLabels().assign(0);
                ds.getLabels().getColumn(0).assign(1);
            });
            return d;
        }, 20));
        cases.add(new Case("NaN in batch 5", false, () -> mlp(new Sgd(0.01), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), () -> {
            List<DataSet> d = RealTrainingTest.blobs(10, 1);
            d.get(5).getFeatures().putScalar(0, 0, Double.NaN);
            return d;
        }, 20));
        String only = System.getProperty("assertions.only");
        cases.add(new Case("60 % label noise, 96 examples, Adam 1e-2, 150 epochs", false,
                () -> mlp(new Adam(1e-2), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1),
                () -> noisy(RealTrainingTest.blobs(3, 1), 5), 150));
        cases.add(new Case("healthy: 96 clean examples, Adam 1e-2, 150 epochs", true,
                () -> mlp(new Adam(1e-2), Activation.RELU, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1),
                () -> RealTrainingTest.blobs(3, 1), 150));
        for (Case c : cases) {
            if (only != null && !c.name().contains(only)) {
                continue;
            }
            // a clean held-out set: 4 further batches drawn from the same blobs
            DataSet val = DataSet.merge(RealTrainingTest.blobs(14, c.blobSeed()).subList(10, 14));
            List<Finding> f = RealTrainingTest.train(c.net().get(), c.data().get(), c.epochs(), val);
            System.out.println("== " + c.name() + (c.healthy() ? " [healthy]" : " [fault]") + ": " + f.size() + " findings");
            for (Finding x : f) {
                System.out.println("   " + x.severity() + " " + x.detector() + " " + x.unit() + " " + x.from() + ".." + x.to()
                        + "  " + x.message().substring(0, Math.min(110, x.message().length())));
            }
        }
    }
}
