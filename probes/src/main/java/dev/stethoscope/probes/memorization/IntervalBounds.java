package dev.stethoscope.probes.memorization;

import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BaseLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationELU;
import org.nd4j.linalg.activations.impl.ActivationHardSigmoid;
import org.nd4j.linalg.activations.impl.ActivationHardTanH;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationLReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.activations.impl.ActivationReLU6;
import org.nd4j.linalg.activations.impl.ActivationSELU;
import org.nd4j.linalg.activations.impl.ActivationSigmoid;
import org.nd4j.linalg.activations.impl.ActivationSoftPlus;
import org.nd4j.linalg.activations.impl.ActivationSoftmax;
import org.nd4j.linalg.activations.impl.ActivationTanH;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.List;
import java.util.Set;

/**
 * Sound bounds on how far a network's decision can move inside a box of inputs: interval
 * bound propagation (Gowal et al. 2018, "On the effectiveness of interval bound propagation
 * for training verifiably robust models"), used by {@link CriticalSamples} to skip examples
 * that provably cannot be critical.
 *
 * <p><b>What it computes.</b> For every example, a box {@code [lo, hi]} of inputs (the LASS box
 * {@code [x - r, x + r]} clipped to the input range) and the class k predicted at x, a lower
 * bound of {@code min over j != k of (z_k(x~) - z_j(x~))} over all x~ in the box, where z are the
 * output layer's pre-activations (logits). If that bound is positive, no x~ in the box changes
 * the argmax, so no search, LASS or any other, can find the example critical.
 *
 * <p><b>How.</b> Bounds [l, u] go through the layers: an affine layer (dense or convolution) maps
 * centre c = (l + u)/2 and radius rho = (u - l)/2 to {@code c' = W c + b} and
 * {@code rho' = |W| rho}; a monotone activation maps {@code [c' - rho', c' + rho']} to its image;
 * max and average pooling, being monotone, map l and u separately; reshaping preprocessors
 * reshape both. At the dense output layer the logit differences are bounded directly,
 * {@code z_k - z_j >= c.(w_k - w_j) + b_k - b_j - rho.|w_k - w_j|}, which is tighter than
 * subtracting separate logit bounds. The affine maps are computed by DL4J's own layers on two
 * private copies of the network whose layers have identity activations: one with the
 * parameters, one with their absolute values and zero biases.
 *
 * <p><b>Supported networks</b> ({@link #unsupportedReason}): FLOAT or DOUBLE MultiLayerNetworks
 * without weight noise, built from dense layers without layer normalisation, convolution layers,
 * max or average subsampling, activation and dropout layers (dropout is the identity at
 * inference), non-decreasing activations (identity, ReLU without a negative slope or negative
 * threshold, leaky ReLU and ELU with alpha &gt;= 0, ReLU6, SELU, sigmoid, tanh, hard sigmoid,
 * hard tanh, softplus), reshaping CNN/feed-forward preprocessors, and a dense
 * {@code OutputLayer} with softmax or identity (a saturating output activation could tie two
 * outputs whose logits differ). Anything else (batch normalisation, recurrent layers, ...) is
 * reported as unsupported and the caller searches every example.
 *
 * <p><b>Rounding.</b> Bounds are computed in double precision on double copies of the network,
 * whatever its own type; a margin counts as certified only if its bound exceeds
 * {@code 1e-3 * max(1, |margin at the centre|)}, far above the rounding error of the network's
 * own float forward pass, so rounding cannot certify an example whose decision actually changes.
 * A row whose bounds overflow or become NaN is never certified.
 */
public final class IntervalBounds {
    private static final Set<Class<? extends IActivation>> MONOTONE = Set.of(ActivationIdentity.class,
            ActivationReLU.class, ActivationLReLU.class, ActivationReLU6.class, ActivationELU.class,
            ActivationSELU.class, ActivationSigmoid.class, ActivationTanH.class, ActivationHardSigmoid.class,
            ActivationHardTanH.class, ActivationSoftPlus.class);
    private static final double RELATIVE_TOLERANCE = 1e-3;

    /** Whether {@code a} is non-decreasing with the settings it has (class and parameters). */
    static boolean monotone(IActivation a) {
        if (!MONOTONE.contains(a.getClass())) {
            return false;
        }
        if (a instanceof ActivationLReLU l) {
            return l.getAlpha() >= 0;
        }
        if (a instanceof ActivationELU e) {
            return e.getAlpha() >= 0;
        }
        if (a instanceof ActivationReLU r) {
            // below the threshold t: slope * (x - t); a negative slope, or a jump down at t < 0, is not monotone
            return (r.getNegativeSlope() == null || r.getNegativeSlope() >= 0)
                    && (r.getThreshold() == null || r.getThreshold() >= 0);
        }
        return true;
    }
    static final List<String> AFFINE_PARAMS = List.of("W", "pW", "b");

    private final MultiLayerNetwork centre;
    private final MultiLayerNetwork radius;
    private final INDArray outW;
    private final INDArray outB;
    /** The source network's activation of each affine layer (the copies have identity activations). */
    private final IActivation[] activations;

    private IntervalBounds(MultiLayerNetwork net) {
        this.activations = new IActivation[net.getnLayers()];
        for (int i = 0; i < activations.length; i++) {
            if (net.getLayerWiseConfigurations().getConf(i).getLayer() instanceof BaseLayer bl) {
                activations[i] = bl.getActivationFn();
            }
        }
        this.centre = identityCopy(net, false);
        this.radius = identityCopy(net, true);
        org.deeplearning4j.nn.api.Layer out = centre.getOutputLayer();
        this.outW = out.getParam("W").dup();
        this.outB = out.paramTable().get("b") == null ? null : out.paramTable().get("b").dup();
    }

    /**
     * Bounds for {@code net} with its current parameters, copied now (later parameter changes of
     * {@code net} are not seen: make a new instance).
     *
     * @throws IllegalArgumentException if {@link #unsupportedReason} is not null
     */
    public static IntervalBounds of(MultiLayerNetwork net) {
        String why = unsupportedReason(net);
        if (why != null) {
            throw new IllegalArgumentException("Interval bounds are not available for this network: " + why);
        }
        return new IntervalBounds(net);
    }

    /** Why interval bounds cannot be computed for {@code net}, or {@code null} if they can. */
    public static String unsupportedReason(MultiLayerNetwork net) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        DataType type = net.params().dataType();
        if (type != DataType.FLOAT && type != DataType.DOUBLE) {
            return "the network computes in " + type + " (supported: FLOAT, DOUBLE): its own rounding is "
                    + "too coarse for the certification's tolerance";
        }
        int n = net.getnLayers();
        for (int i = 0; i < n; i++) {
            InputPreProcessor pre = conf.getInputPreProcess(i);
            if (pre != null && !(pre instanceof CnnToFeedForwardPreProcessor)
                    && !(pre instanceof FeedForwardToCnnPreProcessor)) {
                return "layer " + i + " has input preprocessor " + pre.getClass().getSimpleName()
                        + " (supported: CnnToFeedForwardPreProcessor, FeedForwardToCnnPreProcessor)";
            }
            Layer l = conf.getConf(i).getLayer();
            String name = "layer " + i + " (" + l.getClass().getSimpleName() + ")";
            if (l instanceof BaseLayer bl && bl.getWeightNoise() != null) {
                // DL4J applies some weight noise to biases even at inference
                return name + ": weight noise " + bl.getWeightNoise();
            }
            if (i == n - 1) {
                if (l.getClass() != OutputLayer.class) {
                    return name + ": the output layer must be a dense OutputLayer";
                }
                IActivation a = ((BaseLayer) l).getActivationFn();
                // softmax and identity keep distinct logits distinct; saturating activations (sigmoid,
                // tanh, ReLU, ...) can tie two outputs whose logits differ, and argmax then picks the first
                if (!(a instanceof ActivationSoftmax) && !(a instanceof ActivationIdentity)) {
                    return name + ": output activation " + a + " (supported: softmax, identity)";
                }
                if (!AFFINE_PARAMS.containsAll(net.getLayer(i).paramTable().keySet())) {
                    return name + ": parameters " + net.getLayer(i).paramTable().keySet();
                }
                continue;
            }
            if (l instanceof DenseLayer d) {
                if (d.hasLayerNorm()) {
                    return name + ": layer normalisation is not affine";
                }
            } else if (l instanceof ConvolutionLayer) {
                // convolutions of every kind are linear in the input: |kernel| bounds the radius
            } else if (l instanceof SubsamplingLayer s) {
                if (s.getPoolingType() != PoolingType.MAX && s.getPoolingType() != PoolingType.AVG) {
                    return name + ": pooling " + s.getPoolingType() + " (supported: MAX, AVG)";
                }
                continue;
            } else if (l instanceof ActivationLayer a) {
                if (!monotone(a.getActivationFn())) {
                    return name + ": activation " + a.getActivationFn() + " is not monotone (with these settings)";
                }
                continue;
            } else if (l instanceof DropoutLayer) {
                continue;
            } else {
                return name + " is not supported (supported: dense, convolution, max/avg subsampling, "
                        + "activation and dropout layers, then a dense OutputLayer)";
            }
            IActivation a = ((BaseLayer) l).getActivationFn();
            if (!monotone(a)) {
                return name + ": activation " + a + " is not monotone (with these settings)";
            }
            if (!AFFINE_PARAMS.containsAll(net.getLayer(i).paramTable().keySet())) {
                return name + ": parameters " + net.getLayer(i).paramTable().keySet() + " (supported: W, pW, b)";
            }
        }
        return null;
    }

    /** A copy of {@code net} whose affine layers have identity activations; optionally |W| and zero biases. */
    private static MultiLayerNetwork identityCopy(MultiLayerNetwork net, boolean absoluteWeights) {
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            MultiLayerConfiguration conf = net.getLayerWiseConfigurations().clone();
            for (int i = 0; i < conf.getConfs().size(); i++) {
                Layer l = conf.getConf(i).getLayer();
                if (l instanceof BaseLayer b && (l instanceof DenseLayer || l instanceof ConvolutionLayer
                        || l instanceof OutputLayer)) {
                    b.setActivationFn(new ActivationIdentity());
                }
            }
            MultiLayerNetwork f = new MultiLayerNetwork(conf);
            f.init(net.params().dup(), false);
            // bounds in double precision: their own rounding stays far below the certification tolerance
            MultiLayerNetwork c = f.params().dataType() == DataType.DOUBLE ? f : f.convertDataType(DataType.DOUBLE);
            if (absoluteWeights) {
                c.setParams(Transforms.abs(c.params(), true));
                for (int i = 0; i < c.getnLayers(); i++) {
                    INDArray b = c.getLayer(i).paramTable().get("b");
                    if (b != null) {
                        b.assign(0);
                    }
                }
            }
            return c;
        }
    }

    /**
     * For each example i, a lower bound of {@code min over j != predicted[i] of
     * (z_predicted[i] - z_j)} over every input in the box {@code [lo[i], hi[i]]}.
     *
     * @param lo        lower corners, in the network's input shape, first dimension = examples
     * @param hi        upper corners, same shape, {@code hi >= lo}
     * @param predicted the class whose margin is bounded, per example
     */
    public double[] marginLowerBounds(INDArray lo, INDArray hi, int[] predicted) {
        return margins(lo, hi, predicted).lower();
    }

    /** Lower bounds of the margins over the boxes, and the margins' values at the box centres' image. */
    record Margins(double[] lower, double[] centre) {
    }

    private Margins margins(INDArray lo, INDArray hi, int[] predicted) {
        int n = (int) lo.size(0);
        if (hi.size(0) != n || predicted.length != n) {
            throw new IllegalArgumentException("lo, hi and predicted must have the same number of examples: "
                    + n + ", " + hi.size(0) + ", " + predicted.length);
        }
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        MultiLayerConfiguration conf = centre.getLayerWiseConfigurations();
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            INDArray l = lo.castTo(DataType.DOUBLE).dup();
            INDArray u = hi.castTo(DataType.DOUBLE).dup();
            boolean[] bad = new boolean[n];
            int last = centre.getnLayers() - 1;
            for (int i = 0; i <= last; i++) {
                InputPreProcessor pre = conf.getInputPreProcess(i);
                if (pre != null) {
                    l = pre.preProcess(l, n, mgr).dup();
                    u = pre.preProcess(u, n, mgr).dup();
                }
                if (i == last) {
                    break;
                }
                Layer lc = conf.getConf(i).getLayer();
                if (lc instanceof DenseLayer || lc instanceof ConvolutionLayer) {
                    INDArray c = l.add(u).muli(0.5);
                    INDArray rho = u.sub(l).muli(0.5);
                    INDArray pc = centre.getLayer(i).activate(c, false, mgr).dup();
                    INDArray pr = radius.getLayer(i).activate(rho, false, mgr).dup();
                    centre.getLayer(i).clear();
                    radius.getLayer(i).clear();
                    IActivation act = activations[i];
                    l = act.getActivation(pc.sub(pr), false);
                    u = act.getActivation(pc.addi(pr), false);
                } else if (lc instanceof SubsamplingLayer) {
                    org.deeplearning4j.nn.api.Layer pool = centre.getLayer(i);
                    l = pool.activate(l, false, mgr).dup();
                    u = pool.activate(u, false, mgr).dup();
                    pool.clear();
                } else if (lc instanceof ActivationLayer a) {
                    l = a.getActivationFn().getActivation(l, false);
                    u = a.getActivationFn().getActivation(u, false);
                }
                // DropoutLayer: identity at inference
                markNonFinite(l, bad);
                markNonFinite(u, bad);
            }
            Margins m = outputMargins(l, u, predicted);
            for (int i = 0; i < n; i++) {
                if (bad[i]) {
                    m.lower()[i] = Double.NEGATIVE_INFINITY; // an overflowed or NaN bound proves nothing
                }
            }
            return m;
        }
    }

    /** Flags the rows (first dimension) of {@code a} that hold a NaN or infinite value. */
    static void markNonFinite(INDArray a, boolean[] bad) {
        long per = a.length() / bad.length;
        double[] v = a.dup('c').data().asDouble();
        for (int i = 0; i < bad.length; i++) {
            for (long j = i * per; j < (i + 1) * per && !bad[i]; j++) {
                if (!Double.isFinite(v[(int) j])) {
                    bad[i] = true;
                }
            }
        }
    }

    /** Bounds of z_k - z_j at the dense output layer, from bounds [l, u] of its input. */
    private Margins outputMargins(INDArray l, INDArray u, int[] predicted) {
        return outputMargins(outW, outB, l, u, predicted);
    }

    /** Bounds of z_k - z_j of a dense output layer (weights w, bias b or null), from bounds [l, u] of its input. */
    static Margins outputMargins(INDArray w, INDArray b, INDArray l, INDArray u, int[] predicted) {
        int n = predicted.length;
        int classes = (int) w.size(1);
        INDArray c = l.add(u).muli(0.5);
        INDArray rho = u.sub(l).muli(0.5);
        double[] bound = new double[n];
        java.util.Arrays.fill(bound, Double.POSITIVE_INFINITY);
        double[] centreMargin = new double[n];
        java.util.Arrays.fill(centreMargin, Double.POSITIVE_INFINITY);
        for (int k = 0; k < classes; k++) {
            int rows = 0;
            for (int p : predicted) {
                if (p == k) {
                    rows++;
                }
            }
            if (rows == 0) {
                continue;
            }
            int[] idx = new int[rows];
            for (int i = 0, r = 0; i < n; i++) {
                if (predicted[i] == k) {
                    idx[r++] = i;
                }
            }
            // column j of dk = w_k - w_j
            INDArray dk = w.neg().addiColumnVector(w.getColumn(k).reshape(w.size(0), 1));
            INDArray ck = Nd4j.pullRows(c, 1, idx);
            INDArray rk = Nd4j.pullRows(rho, 1, idx);
            INDArray mid = ck.mmul(dk);
            if (b != null) {
                INDArray db = b.reshape(1, classes).neg().addi(b.getDouble(k));
                mid.addiRowVector(db);
            }
            INDArray lower = mid.sub(rk.mmul(Transforms.abs(dk, true)));
            for (int r = 0; r < rows; r++) {
                for (int j = 0; j < classes; j++) {
                    if (j != k) {
                        bound[idx[r]] = Math.min(bound[idx[r]], lower.getDouble(r, j));
                        centreMargin[idx[r]] = Math.min(centreMargin[idx[r]], mid.getDouble(r, j));
                    }
                }
            }
        }
        for (int i = 0; i < n; i++) {
            if (Double.isNaN(bound[i])) {
                bound[i] = Double.NEGATIVE_INFINITY; // NaN or overflow certifies nothing
            }
        }
        return new Margins(bound, centreMargin);
    }

    /**
     * Whether each example provably keeps its predicted class everywhere in its box: its margin
     * bound ({@link #marginLowerBounds}) exceeds {@code 1e-3 * max(1, |margin at the box centre|)}.
     */
    public boolean[] certify(INDArray lo, INDArray hi, int[] predicted) {
        return certified(margins(lo, hi, predicted));
    }

    /** The certification rule of {@link #certify} applied to margins. */
    static boolean[] certified(Margins m) {
        double[] bound = m.lower();
        double[] mid = m.centre();
        boolean[] ok = new boolean[bound.length];
        for (int i = 0; i < ok.length; i++) {
            double tol = RELATIVE_TOLERANCE * Math.max(1, Math.abs(mid[i]));
            ok[i] = bound[i] > tol;
        }
        return ok;
    }
}
