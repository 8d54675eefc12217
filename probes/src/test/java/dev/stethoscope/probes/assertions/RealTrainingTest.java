package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions.LossFunction;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Detectors on signals taken from real tiny DL4J trainings: a healthy one is silent, injected
 * faults (learning rate 10, strongly negative ReLU bias, learning rate 1e-7) are named.
 */
class RealTrainingTest {
    static final int FEATURES = 16;
    static final int CLASSES = 4;
    static final int BATCH = 32;

    /** Gaussian blobs: class c centred on a fixed random point, unit noise, features scaled to about [-3, 3]. */
    static List<DataSet> blobs(int batches, long seed) {
        Random r = new Random(seed);
        double[][] centres = new double[CLASSES][FEATURES];
        for (double[] c : centres) {
            for (int j = 0; j < FEATURES; j++) {
                c[j] = r.nextGaussian();
            }
        }
        List<DataSet> out = new ArrayList<>();
        for (int b = 0; b < batches; b++) {
            double[][] x = new double[BATCH][FEATURES];
            double[][] y = new double[BATCH][CLASSES];
            for (int i = 0; i < BATCH; i++) {
                int c = r.nextInt(CLASSES);
                y[i][c] = 1;
                for (int j = 0; j < FEATURES; j++) {
                    x[i][j] = centres[c][j] + 0.7 * r.nextGaussian();
                }
            }
            out.add(new DataSet(Nd4j.create(x).castTo(DataType.FLOAT), Nd4j.create(y).castTo(DataType.FLOAT)));
        }
        return out;
    }

    static MultiLayerNetwork net(IUpdater updater, double hiddenBias) {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().seed(3).updater(updater)
                .weightInit(WeightInit.RELU).list()
                .layer(new DenseLayer.Builder().nIn(FEATURES).nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build())
                .layer(new DenseLayer.Builder().nIn(32).nOut(32).activation(Activation.RELU).biasInit(hiddenBias).build())
                .layer(new OutputLayer.Builder(LossFunction.MCXENT).nIn(32).nOut(CLASSES).activation(Activation.SOFTMAX).build())
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Per-step gradient and update norms as DL4J hands them to listeners. */
    static final class NormsListener extends BaseTrainingListener {
        Signals.LayerNorms gradients;
        Signals.LayerNorms updates;

        @Override
        public void onGradientCalculation(Model model) {
            gradients = Signals.layerNorms(model.gradient().gradientForVariable()); // raw gradient here
        }

        @Override
        public void iterationDone(Model model, int iteration, int epoch) {
            updates = Signals.layerNorms(model.gradient().gradientForVariable()); // the applied update here
        }
    }

    /** Trains {@code epochs} passes over the batches, feeding every step (and epoch) to the default suite. */
    static List<Finding> train(MultiLayerNetwork net, List<DataSet> data, int epochs) {
        return train(net, data, epochs, null);
    }

    /** As {@link #train(MultiLayerNetwork, List, int)}, with the validation loss on {@code validation} (may be null) at each epoch end. */
    static List<Finding> train(MultiLayerNetwork net, List<DataSet> data, int epochs, DataSet validation) {
        DetectorSuite suite = DetectorSuite.defaults();
        NormsListener norms = new NormsListener();
        net.addListeners(norms);
        List<Finding> findings = new ArrayList<>(ConfigLint.check(net.getLayerWiseConfigurations()));
        findings.addAll(ConfigLint.checkInput(data.get(0).getFeatures()));
        long step = 0;
        for (int e = 0; e < epochs; e++) {
            double sum = 0;
            for (DataSet ds : data) {
                net.fit(ds);
                double loss = net.score();
                sum += loss;
                List<INDArray> ff = net.feedForward(ds.getFeatures(), false);
                Signals.ActivationSignals acts = Signals.activations(ff, net.getLayerWiseConfigurations());
                Signals.LayerNorms params = Signals.layerNorms(net.paramTable());
                findings.addAll(suite.onStep(StepSignals.builder(step++).epoch(e).loss(loss)
                        .layerNames(params.names())
                        .gradientNorms(norms.gradients.norms()).parameterCounts(params.counts()).parameterNorms(params.norms()).updateNorms(norms.updates.norms())
                        .zeroFractions(acts.zeroFractions()).saturatedFractions(acts.saturatedFractions())
                        .nonFiniteActivations(acts.nonFinite())
                        .predictedClasses(Signals.classes(ff.get(ff.size() - 1))).labelClasses(Signals.classes(ds.getLabels()))
                        .build()));
            }
            if (Boolean.getBoolean("assertions.debug")) {
                System.out.println("   debug " + suite.window().latest());
            }
            double val = validation == null ? Double.NaN : net.score(validation);
            findings.addAll(suite.onEpoch(new EpochSignals(e, sum / data.size(), val, Double.NaN)));
        }
        return findings;
    }

    @Test
    void healthyTrainingIsSilent() {
        List<DataSet> data = blobs(10, 1);
        MultiLayerNetwork net = net(new Sgd(0.01), 0.0);
        List<Finding> f = train(net, data, 20);
        assertThat(f).as("findings on a healthy run").isEmpty();
        // and it did learn: a finding-free run that learned nothing would prove little
        assertThat(net.score(data.get(0))).isLessThan(0.3);
    }

    @Test
    void learningRateTenIsNamed() {
        List<Finding> f = train(net(new Sgd(10), 0.0), blobs(10, 1), 5);
        assertThat(f).extracting(Finding::detector).contains(ConfigLint.LEARNING_RATE);
        assertThat(f).filteredOn(x -> x.severity() == Severity.ERROR).extracting(Finding::detector)
                .containsAnyOf(NonFiniteDetector.ID, ExplodingGradientDetector.ID, DyingReluDetector.ID, UpdateRatioDetector.ID);
    }

    @Test
    void negativeReluBiasIsDyingRelu() {
        List<Finding> f = train(net(new Sgd(0.01), -10.0), blobs(10, 1), 3);
        assertThat(f).filteredOn(x -> x.detector().equals(DyingReluDetector.ID))
                .singleElement().satisfies(x -> {
                    assertThat(x.severity()).isEqualTo(Severity.ERROR);
                    assertThat(x.from()).isEqualTo(0);
                });
    }

    @Test
    void deepSigmoidIsVanishingGradients() {
        MultiLayerNetwork net = RealFaultsMain.mlp(new Sgd(0.01), Activation.SIGMOID, 8, Activation.SOFTMAX, LossFunction.MCXENT, 1);
        List<Finding> f = train(net, blobs(10, 1), 2);
        assertThat(f).filteredOn(x -> x.detector().equals(VanishingGradientDetector.ID)).singleElement()
                .satisfies(x -> assertThat(x.to()).isLessThan(10));
        assertThat(f).noneMatch(x -> x.severity() == Severity.ERROR);
    }

    @Test
    void noisyLabelsOnFewExamplesIsValidationDivergence() {
        DataSet val = DataSet.merge(blobs(14, 1).subList(10, 14));
        List<Finding> noisy = train(RealFaultsMain.mlp(new org.nd4j.linalg.learning.config.Adam(1e-2), Activation.RELU, 2,
                Activation.SOFTMAX, LossFunction.MCXENT, 1), RealFaultsMain.noisy(blobs(3, 1), 5), 20, val);
        assertThat(noisy).extracting(Finding::detector).containsExactly(ValidationDivergenceDetector.ID);
        assertThat(noisy.get(0).unit()).isEqualTo(WindowUnit.EPOCH);
        // the same training on clean labels, long past convergence: silent
        List<Finding> clean = train(RealFaultsMain.mlp(new org.nd4j.linalg.learning.config.Adam(1e-2), Activation.RELU, 2,
                Activation.SOFTMAX, LossFunction.MCXENT, 1), blobs(3, 1), 150, val);
        assertThat(clean).isEmpty();
    }

    @Test
    void unscaledInputsSaturateTanh() {
        List<DataSet> data = blobs(10, 1);
        data.forEach(ds -> ds.getFeatures().muli(255));
        List<Finding> f = train(RealFaultsMain.mlp(new Sgd(0.01), Activation.TANH, 2, Activation.SOFTMAX, LossFunction.MCXENT, 1), data, 2);
        assertThat(f).extracting(Finding::detector).containsExactlyInAnyOrder(ConfigLint.INPUT_RANGE, SaturationDetector.ID);
        assertThat(f).noneMatch(x -> x.severity() == Severity.ERROR);
    }

    @Test
    void tinyLearningRateIsNoProgress() {
        List<Finding> f = train(net(new Sgd(1e-7), 0.0), blobs(10, 1), 15);
        // 1e-7 is the lower end of UMLAUT's range, so the lint is silent; the dynamics name the fault
        assertThat(f).extracting(Finding::detector).containsExactlyInAnyOrder(SlowProgressDetector.ID, UpdateRatioDetector.ID);
        assertThat(f).noneMatch(x -> x.severity() == Severity.ERROR);
    }
}
