package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;

/**
 * Guided backpropagation (Springenberg et al. 2015) and Deconvnet (Zeiler &amp; Fergus 2014): the backward pass
 * of the target's logit with a modified rule at each ReLU. Guided: pass the signal where the forward input is
 * positive AND the backward signal is positive; Deconvnet: pass the positive part of the backward signal,
 * whatever the forward input. Other steps use the chain rule (max pooling routes to the forward winner).
 */
public final class GuidedBackprop extends PropagationAttributor {

    /** The two ReLU rules. */
    public enum Mode { GUIDED, DECONVNET }

    private final Mode mode;

    /**
     * Zeiler &amp; Fergus' deconvnet rule: rectify the signal at each ReLU (whatever the forward input); every other
     * step uses the chain rule, so a convolution is filtered with its transposed weights and max pooling routes
     * to the switches (winners) of the forward pass. Also used by the feature-evolution projections.
     */
    public static final Propagation.Rule DECONVNET_RULE = (k, s, in, out, sig) -> {
        if (s instanceof Propagation.Activation a && a.isRelu()) {
            return Transforms.max(sig, 0.0, true);
        }
        return s.gradient(in, out, sig);
    };

    /** The guided-backprop rule: at each ReLU pass the signal where the forward input and the signal are positive. */
    public static final Propagation.Rule GUIDED_RULE = (k, s, in, out, sig) -> {
        if (s instanceof Propagation.Activation a && a.isRelu()) {
            return Transforms.max(sig, 0.0, true).muli(in.gt(0).castTo(sig.dataType()));
        }
        return s.gradient(in, out, sig);
    };

    /** Guided backprop on a copy. */
    public GuidedBackprop(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH, Mode.GUIDED);
    }

    /** Either rule on a shared logit view. */
    public GuidedBackprop(LogitNetwork net, int batchSize, Mode mode) {
        super(net, batchSize, mode == Mode.DECONVNET ? "Deconvnet" : "Guided backprop");
        requireReluOrIdentity(mode == Mode.DECONVNET ? "Deconvnet" : "Guided backprop");
        this.mode = mode;
    }

    /** Deconvnet on a copy. */
    public static GuidedBackprop deconvnet(NetworkCopy copy) {
        return new GuidedBackprop(logitView(copy), DEFAULT_BATCH, Mode.DECONVNET);
    }

    @Override
    public String name() {
        return mode == Mode.GUIDED ? "guided-backprop" : "deconvnet";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        if (graph != null) {
            return graphSingle(x, targets, null);
        }
        validate(x, targets);
        double[] fx = new double[targets.length];
        INDArray maps = batched(x, targets, (xp, tp, start) -> {
            List<INDArray> acts = prop.forward(xp);
            INDArray z = top(acts);
            INDArray g = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                g.putScalar(i, tp[i], 1.0);
                fx[(int) start + i] = z.getDouble(i, tp[i]);
            }
            if (mode == Mode.DECONVNET) {
                return prop.propagate(acts, acts.size() - 1, g, 0, DECONVNET_RULE, null);
            }
            return prop.propagate(acts, acts.size() - 1, g, 0, GUIDED_RULE, null);
        });
        return new Attribution(name(), maps, targets.clone(), fx, null, null);
    }

    /**
     * On a ComputationGraph: the same ReLU rule at every ReLU node; additions, merges, subsets, products and
     * maxima use the chain rule; signals of several consumers of a node add up.
     */
    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        if (graph == null) {
            return super.attributeInputs(xs, targets);
        }
        validateInputs(xs, targets);
        double[] fx = new double[targets.length];
        Propagation.Rule rule = mode == Mode.DECONVNET ? DECONVNET_RULE : GUIDED_RULE;
        INDArray[] maps = batchedInputs(xs, targets, (xp, tp, start) -> {
            List<INDArray> acts = graph.forward(xp);
            INDArray z = acts.get(acts.size() - 1);
            INDArray g = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                g.putScalar(i, tp[i], 1.0);
                fx[(int) start + i] = z.getDouble(i, tp[i]);
            }
            return graph.atInputs(graph.propagate(acts, g, 0, rule, GraphPropagation.GRADIENT), acts);
        });
        return new InputAttributions(name(), net.inputNames(), java.util.Arrays.asList(maps), targets.clone(), fx, null);
    }
}
