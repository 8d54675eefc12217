package dev.stethoscope.probes.assertions;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LossLayer;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.learning.config.IUpdater;
import org.nd4j.linalg.lossfunctions.ILossFunction;
import org.nd4j.linalg.lossfunctions.impl.LossBinaryXENT;
import org.nd4j.linalg.lossfunctions.impl.LossL1;
import org.nd4j.linalg.lossfunctions.impl.LossL2;
import org.nd4j.linalg.lossfunctions.impl.LossMCXENT;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

/**
 * Configuration lint at attach time (UMLAUT's checks), over a {@link MultiLayerConfiguration} or a
 * {@link ComputationGraphConfiguration} and the first training batch. Findings have unit {@link WindowUnit#ATTACH} and range 0..0.
 * <ul>
 *   <li>{@value #LOSS_ACTIVATION} (ERROR): the output layer's activation does not fit its loss:
 *       multi-class cross-entropy (MCXENT, NEGATIVELOGLIKELIHOOD, SPARSE_MCXENT) without softmax;
 *       binary cross-entropy (XENT) with an output that is not in (0, 1) (identity, ReLU, tanh...);
 *       a squared/absolute error (MSE, L2, L1, MAE) after softmax. Binary cross-entropy after
 *       softmax is a WARNING (valid only for one-hot targets; sigmoid is meant).</li>
 *   <li>{@value #LEARNING_RATE} (WARNING): a layer's initial learning rate outside
 *       [{@value #MIN_LR}, {@value #MAX_LR}] (UMLAUT's range; SGD at 0.1 is common and healthy,
 *       so this is only a warning).</li>
 *   <li>{@value #INPUT_RANGE}: the first batch holds NaN/infinite values (ERROR), or values beyond
 *       +-{@value #INPUT_LIMIT} (WARNING). UMLAUT's rule is [-1, 1]; standardised inputs routinely
 *       reach +-3 to +-5, so the limit is looser (docs/ASSERTIONS.md): it still catches raw 0-255
 *       pixels.</li>
 * </ul>
 */
public final class ConfigLint {
    /** Detector id of the activation/loss rule. */
    public static final String LOSS_ACTIVATION = "config-loss-activation";
    /** Detector id of the learning rate rule. */
    public static final String LEARNING_RATE = "config-learning-rate";
    /** Detector id of the input range rule. */
    public static final String INPUT_RANGE = "config-input-range";
    /** Lowest learning rate without warning. */
    public static final double MIN_LR = 1e-7;
    /** Highest learning rate without warning. */
    public static final double MAX_LR = 0.01;
    /** Largest absolute input value without warning. */
    public static final double INPUT_LIMIT = 10.0;

    private ConfigLint() {
    }

    /** @return the findings of the loss/activation and learning rate rules (empty when the configuration looks right) */
    public static List<Finding> check(MultiLayerConfiguration conf) {
        List<Layer> layers = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < conf.getConfs().size(); i++) {
            Layer layer = conf.getConf(i).getLayer();
            layers.add(layer);
            names.add(layer.getLayerName() == null ? "layer " + i : layer.getLayerName());
        }
        List<Finding> out = new ArrayList<>();
        if (!layers.isEmpty()) {
            output(layers.get(layers.size() - 1), names.get(names.size() - 1), out);
        }
        learningRates(layers, names, out);
        return out;
    }

    /**
     * The same rules over a {@link ComputationGraphConfiguration}: every network output that is a
     * layer is checked against its loss; every layer's learning rate against the range.
     *
     * @return the findings (empty when the configuration looks right)
     */
    public static List<Finding> check(ComputationGraphConfiguration conf) {
        List<Layer> layers = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (Map.Entry<String, GraphVertex> e : conf.getVertices().entrySet()) {
            if (e.getValue() instanceof LayerVertex v && v.getLayerConf() != null) {
                layers.add(v.getLayerConf().getLayer());
                names.add(e.getKey());
            }
        }
        List<Finding> out = new ArrayList<>();
        for (String output : conf.getNetworkOutputs()) {
            int i = names.indexOf(output);
            if (i >= 0) {
                output(layers.get(i), output, out);
            }
        }
        learningRates(layers, names, out);
        return out;
    }

    private static void output(Layer last, String name, List<Finding> out) {
        ILossFunction loss = last instanceof BaseOutputLayer o ? o.getLossFn()
                : last instanceof LossLayer l ? l.getLossFn() : null;
        IActivation act = last instanceof BaseLayer b ? b.getActivationFn() : null;
        if (loss != null && act != null) {
            lossActivation(loss, act, name, out);
        }
    }

    private static void learningRates(List<Layer> layers, List<String> names, List<Finding> out) {
        Map<Double, List<String>> outside = new TreeMap<>();
        for (int i = 0; i < layers.size(); i++) {
            if (layers.get(i) instanceof BaseLayer b && b.getIUpdater() != null) {
                IUpdater u = b.getIUpdater();
                if (u.hasLearningRate()) {
                    double lr = u.getLearningRate(0, 0);
                    if (lr < MIN_LR || lr > MAX_LR) {
                        outside.computeIfAbsent(lr, k -> new ArrayList<>()).add(names.get(i));
                    }
                }
            }
        }
        for (Map.Entry<Double, List<String>> e : outside.entrySet()) {
            double lr = e.getKey();
            out.add(new Finding(LEARNING_RATE, Severity.WARNING, String.format(Locale.ROOT,
                    "Learning rate %.3g of %s is outside [%.0e, %.2f]: %s", lr, String.join(", ", e.getValue()), MIN_LR, MAX_LR,
                    lr > MAX_LR ? "training may diverge or oscillate (lower it, e.g. 1e-3 with Adam)"
                            : "the weights will barely move (raise it, e.g. 1e-3 with Adam)"), WindowUnit.ATTACH, 0, 0));
        }
    }

    private static void lossActivation(ILossFunction loss, IActivation act, String layer, List<Finding> out) {
        String a = act.getClass().getSimpleName().replace("Activation", "").toLowerCase(Locale.ROOT);
        String l = loss.getClass().getSimpleName().replace("Loss", "");
        if (loss instanceof LossMCXENT && !(act instanceof ActivationSoftmax)) {
            out.add(new Finding(LOSS_ACTIVATION, Severity.ERROR, "Output " + layer + " uses multi-class cross-entropy (" + l
                    + ") with a " + a + " activation: the loss expects a probability distribution over classes. Use"
                    + " Activation.SOFTMAX with LossFunction.MCXENT (or, for independent binary labels, Activation.SIGMOID"
                    + " with LossFunction.XENT).", WindowUnit.ATTACH, 0, 0));
        } else if (loss instanceof LossBinaryXENT && act instanceof ActivationSoftmax) {
            out.add(new Finding(LOSS_ACTIVATION, Severity.WARNING, "Output " + layer + " uses binary cross-entropy (XENT)"
                    + " with softmax: meant for independent binary labels with sigmoid. For one class per example use"
                    + " LossFunction.MCXENT with softmax.", WindowUnit.ATTACH, 0, 0));
        } else if (loss instanceof LossBinaryXENT && !(act instanceof ActivationSigmoid)) {
            out.add(new Finding(LOSS_ACTIVATION, Severity.ERROR, "Output " + layer + " uses binary cross-entropy (XENT) with a "
                    + a + " activation, whose outputs are not confined to (0, 1): log of a non-positive value gives NaN."
                    + " Use Activation.SIGMOID.", WindowUnit.ATTACH, 0, 0));
        } else if ((loss instanceof LossL2 || loss instanceof LossL1) && act instanceof ActivationSoftmax) {
            out.add(new Finding(LOSS_ACTIVATION, Severity.ERROR, "Output " + layer + " uses a regression loss (" + l
                    + ") after softmax: for classification the gradient through softmax is weak and training is slow or"
                    + " stalls. Use LossFunction.MCXENT with softmax (classification) or an identity output (regression).",
                    WindowUnit.ATTACH, 0, 0));
        }
    }

    /** @return findings of the input range rule over the first batch's features (reads them only) */
    public static List<Finding> checkInput(INDArray features) {
        List<Finding> out = new ArrayList<>();
        long nonFinite = Signals.nonFiniteCount(features);
        if (nonFinite > 0) {
            out.add(new Finding(INPUT_RANGE, Severity.ERROR, "The first batch holds " + nonFinite + " NaN or infinite input"
                    + " values: training will produce NaN. Clean or impute the data before training.", WindowUnit.ATTACH, 0, 0));
            return out;
        }
        double maxAbs = features.amaxNumber().doubleValue();
        if (maxAbs > INPUT_LIMIT) {
            out.add(new Finding(INPUT_RANGE, Severity.WARNING, String.format(Locale.ROOT,
                    "Inputs of the first batch range over [%.3g, %.3g], beyond +-%.0f: unnormalised inputs slow training and"
                            + " saturate units. Scale them to [0, 1] or [-1, 1] (ImagePreProcessingScaler for pixels) or"
                            + " standardise them (NormalizerStandardize).",
                    features.minNumber().doubleValue(), features.maxNumber().doubleValue(), INPUT_LIMIT), WindowUnit.ATTACH, 0, 0));
        }
        return out;
    }
}
