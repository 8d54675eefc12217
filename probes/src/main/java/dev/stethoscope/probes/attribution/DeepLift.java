package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * DeepLIFT with the rescale rule (Shrikumar et al. 2017) against a baseline x' (default zeros). Multipliers
 * flow down from the target's logit: linear maps by their transpose, an element-wise nonlinearity y = f(z) by
 * (f(z) - f(z')) / (z - z') (its derivative where |z - z'| &lt; 1e-6), reshapes by reshaping. Max pooling uses
 * the gradient of x's winner (the DeepLIFT paper's choice), so summation-to-delta is exact only for networks
 * without max pooling. Contributions are (x - x') * m; the completeness figure is
 * sum(contributions) - (f_c(x) - f_c(x')).
 *
 * <p>Every call keeps its intermediate values (activations, baseline scores) in local variables: attributors on
 * separate network copies run concurrently on separate threads and give the results they give one after the other
 * (tested). Calls on one instance share its network copy: on a graph they are serialised, on a MultiLayerNetwork
 * give each thread its own instance.
 */
public final class DeepLift extends PropagationAttributor {
    private static final double TOL = 1e-6;
    private final INDArray baseline;

    /** On a copy with the zero baseline. */
    public DeepLift(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH, null);
    }

    /**
     * @param baseline x' (one example's shape, or the batch's); null means zeros
     */
    public DeepLift(LogitNetwork net, int batchSize, INDArray baseline) {
        super(net, batchSize, "DeepLIFT");
        this.baseline = baseline;
    }

    @Override
    public String name() {
        return "deeplift";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        if (graph != null) {
            validate(x, targets);
            GraphResult gr = graphAttribute(new INDArray[]{x}, targets);
            InputAttributions r = gr.attributions();
            Map<String, INDArray> extras = new LinkedHashMap<>();
            extras.put("baselineScore", gr.baselineScores());
            return new Attribution(r.method(), r.maps().get(0), r.targets(), r.targetScores(), r.completenessGap(),
                    extras);
        }
        validate(x, targets);
        INDArray base = toInputShape(baselineRows(baseline, x), x);
        double[] fx = new double[targets.length];
        double[] fb = new double[targets.length];
        INDArray maps = batched(x, targets, (xp, tp, start) -> {
            INDArray bp = LogitNetwork.rows(base, start, start + xp.size(0));
            List<INDArray> acts = prop.forward(xp);
            List<INDArray> bacts = prop.forward(bp);
            INDArray z = top(acts);
            INDArray zb = top(bacts);
            INDArray m = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                m.putScalar(i, tp[i], 1.0);
                fx[(int) start + i] = z.getDouble(i, tp[i]);
                fb[(int) start + i] = zb.getDouble(i, tp[i]);
            }
            INDArray mIn = prop.propagate(acts, acts.size() - 1, m, 0, (k, s, in, out, sig) -> {
                if (s instanceof Propagation.Activation) {
                    INDArray dz = in.sub(bacts.get(k));
                    INDArray dy = out.sub(bacts.get(k + 1));
                    INDArray small = org.nd4j.linalg.ops.transforms.Transforms.abs(dz).lt(TOL).castTo(dz.dataType());
                    INDArray deriv = s.gradient(in, out, Nd4j.onesLike(in));
                    INDArray ratio = dy.div(dz.add(small)).muli(small.rsub(1.0)).addi(deriv.mul(small));
                    return sig.mul(ratio);
                }
                return s.gradient(in, out, sig);
            }, null);
            return mIn.muli(xp.castTo(mIn.dataType()).sub(bp.castTo(mIn.dataType())));
        });
        double[] sums = rowSums(maps);
        double[] gap = new double[sums.length];
        for (int i = 0; i < gap.length; i++) {
            gap[i] = sums[i] - (fx[i] - fb[i]);
        }
        Map<String, INDArray> extras = new LinkedHashMap<>();
        extras.put("baselineScore", Nd4j.createFromArray(fb));
        return new Attribution(name(), maps, targets.clone(), fx, gap, extras);
    }

    /** One graph call's result: the attributions and f_c(x') per row (local to the call, never kept). */
    private record GraphResult(InputAttributions attributions, INDArray baselineScores) {
    }

    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        if (graph == null) {
            return super.attributeInputs(xs, targets);
        }
        return graphAttribute(xs, targets).attributions();
    }

    /**
     * DeepLIFT over a ComputationGraph: multipliers of several consumers of a node add up; additions, merges and
     * subsets are linear (multipliers pass as gradients); an element-wise Max passes them to x's winner; an
     * element-wise Product a*b of two inputs uses the Shapley split m_a = m (b + b')/2, m_b = m (a + a')/2, which
     * keeps summation-to-delta exact. The configured baseline is used for a single-input graph; with several
     * inputs every baseline is zeros.
     */
    private synchronized GraphResult graphAttribute(INDArray[] xs, int[] targets) {
        validateInputs(xs, targets);
        INDArray[] base = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            base[i] = xs.length == 1 ? toInputShape(baselineRows(baseline, xs[0]), xs[0])
                    : Nd4j.zeros(net.dataType(), xs[i].shape());
        }
        double[] fx = new double[targets.length];
        double[] fb = new double[targets.length];
        INDArray[] maps = batchedInputs(xs, targets, (xp, tp, start) -> {
            INDArray[] bp = new INDArray[xp.length];
            for (int i = 0; i < xp.length; i++) {
                bp[i] = LogitNetwork.rows(base[i], start, start + xp[0].size(0));
            }
            List<INDArray> acts = graph.forward(xp);
            List<INDArray> bacts = graph.forward(bp);
            INDArray z = acts.get(acts.size() - 1);
            INDArray zb = bacts.get(bacts.size() - 1);
            INDArray m = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                m.putScalar(i, tp[i], 1.0);
                fx[(int) start + i] = z.getDouble(i, tp[i]);
                fb[(int) start + i] = zb.getDouble(i, tp[i]);
            }
            INDArray[] sig = graph.propagate(acts, m, 0, (k, s, in, out, g) -> {
                if (s instanceof Propagation.Activation) {
                    return g.mul(rescale(s, in, out, bacts.get(graph.inputOf(k)), bacts.get(k)));
                }
                return s.gradient(in, out, g);
            }, (k, c, in, out, g) -> {
                if (c instanceof GraphPropagation.Product) {
                    int[] src = graph.nodes().get(k).inputs();
                    if (src.length != 2) {
                        throw new IllegalArgumentException("DeepLIFT's product rule takes two inputs; vertex '"
                                + c.vertex() + "' has " + src.length);
                    }
                    INDArray a = in[0];
                    INDArray b = in[1];
                    INDArray ab = bacts.get(src[0]);
                    INDArray bb = bacts.get(src[1]);
                    return new INDArray[]{g.mul(b.add(bb)).muli(0.5), g.mul(a.add(ab)).muli(0.5)};
                }
                return c.gradient(in, out, g);
            });
            INDArray[] mIn = graph.atInputs(sig, acts);
            for (int i = 0; i < mIn.length; i++) {
                mIn[i] = mIn[i].muli(xp[i].castTo(mIn[i].dataType()).sub(bp[i].castTo(mIn[i].dataType())));
            }
            return mIn;
        });
        double[] sums = rowSums(maps);
        double[] gap = new double[sums.length];
        for (int i = 0; i < gap.length; i++) {
            gap[i] = sums[i] - (fx[i] - fb[i]);
        }
        return new GraphResult(new InputAttributions(name(), net.inputNames(), java.util.Arrays.asList(maps),
                targets.clone(), fx, gap), Nd4j.createFromArray(fb));
    }

    /** (f(z) - f(z')) / (z - z'), the derivative where |z - z'| &lt; tolerance. */
    private static INDArray rescale(Propagation.Step s, INDArray in, INDArray out, INDArray bin, INDArray bout) {
        INDArray dz = in.sub(bin);
        INDArray dy = out.sub(bout);
        INDArray small = org.nd4j.linalg.ops.transforms.Transforms.abs(dz).lt(TOL).castTo(dz.dataType());
        INDArray deriv = s.gradient(in, out, Nd4j.onesLike(in));
        return dy.div(dz.add(small)).muli(small.rsub(1.0)).addi(deriv.mul(small));
    }
}
