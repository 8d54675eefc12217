package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Layer-wise relevance propagation (Bach et al. 2015). Relevance starts as f_c(x) (the target's pre-softmax
 * logit) at the output and flows down with z_ij = a_i w_ij, z_j = sum_i z_ij + b_j:
 * <ul>
 * <li>epsilon rule: R_i = sum_j z_ij / (z_j + eps * sign(z_j)) R_j (sign(0) = +1);</li>
 * <li>alpha-beta rule (alpha - beta = 1): R_i = sum_j (alpha z_ij^+ / z_j^+ - beta z_ij^- / z_j^-) R_j with
 * z_j^+ = sum_i z_ij^+ + b_j^+, z_j^- = sum_i z_ij^- + b_j^-; a term whose denominator is 0 contributes 0.</li>
 * </ul>
 * Element-wise ReLU/identity pass relevance unchanged, reshapes reshape it, max pooling gives it to each
 * window's winner, average pooling uses the linear rule. On a ComputationGraph relevance flows over the vertices
 * (see {@link #attributeInputs}). The completeness figure is sum(R_input) - f_c(x);
 * the extra "relevanceSums" [n, steps+1] holds the relevance total at every activation index.
 */
public final class Lrp extends PropagationAttributor {

    /** Which rule. */
    public enum Rule { EPSILON, ALPHA_BETA }

    private final Rule rule;
    private final double eps;
    private final double alpha;
    private final double beta;

    private Lrp(LogitNetwork net, int batchSize, Rule rule, double eps, double alpha, double beta) {
        super(net, batchSize, "LRP");
        if (graph != null) {
            for (GraphPropagation.Node nd : graph.nodes()) {
                if (nd.combine() instanceof GraphPropagation.Product) {
                    throw noRule(nd.combine());
                }
            }
        }
        requireReluOrIdentity("LRP");
        if (rule == Rule.ALPHA_BETA && Math.abs(alpha - beta - 1) > 1e-9) {
            throw new IllegalArgumentException("LRP alpha-beta needs alpha - beta = 1; got alpha=" + alpha + ", beta=" + beta);
        }
        if (eps < 0) {
            throw new IllegalArgumentException("LRP epsilon must be >= 0, got " + eps);
        }
        this.rule = rule;
        this.eps = eps;
        this.alpha = alpha;
        this.beta = beta;
    }

    /** Epsilon rule on a copy (default internal batch). */
    public static Lrp epsilon(NetworkCopy copy, double eps) {
        return epsilon(logitView(copy), DEFAULT_BATCH, eps);
    }

    /** Epsilon rule on a shared logit view. */
    public static Lrp epsilon(LogitNetwork net, int batchSize, double eps) {
        return new Lrp(net, batchSize, Rule.EPSILON, eps, 0, 0);
    }

    /** Alpha-beta rule on a copy (e.g. alpha=2, beta=1 or alpha=1, beta=0). */
    public static Lrp alphaBeta(NetworkCopy copy, double alpha, double beta) {
        return alphaBeta(logitView(copy), DEFAULT_BATCH, alpha, beta);
    }

    /** Alpha-beta rule on a shared logit view. */
    public static Lrp alphaBeta(LogitNetwork net, int batchSize, double alpha, double beta) {
        return new Lrp(net, batchSize, Rule.ALPHA_BETA, 0, alpha, beta);
    }

    @Override
    public String name() {
        if (rule == Rule.EPSILON) {
            return "lrp-eps";
        }
        return "lrp-a" + fmt(alpha) + "b" + fmt(beta);
    }

    private static String fmt(double v) {
        return v == Math.rint(v) ? String.valueOf((long) v) : String.valueOf(v);
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        if (graph != null) {
            validate(x, targets);
            Map<String, INDArray> extras = new LinkedHashMap<>();
            InputAttributions r = graphAttribute(new INDArray[]{x}, targets, extras);
            return new Attribution(r.method(), r.maps().get(0), r.targets(), r.targetScores(), r.completenessGap(),
                    extras);
        }
        validate(x, targets);
        int levels = prop.steps().size() + 1;
        INDArray sums = Nd4j.create(org.nd4j.linalg.api.buffer.DataType.DOUBLE, x.size(0), levels);
        double[] fx = new double[targets.length];
        INDArray maps = batched(x, targets, (xp, tp, start) -> {
            List<INDArray> acts = prop.forward(xp);
            INDArray z = top(acts);
            INDArray r = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                double v = z.getDouble(i, tp[i]);
                r.putScalar(i, tp[i], v);
                fx[(int) start + i] = v;
            }
            return prop.propagate(acts, levels - 1, r, 0, this::step, (sig, k) -> {
                long nn = sig.size(0);
                INDArray s = sig.reshape('c', nn, sig.length() / nn).sum(1).castTo(sums.dataType());
                sums.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, start + nn),
                        org.nd4j.linalg.indexing.NDArrayIndex.point(k)).assign(s);
            });
        });
        double[] total = rowSums(maps);
        double[] gap = new double[total.length];
        for (int i = 0; i < gap.length; i++) {
            gap[i] = total[i] - fx[i];
        }
        Map<String, INDArray> extras = new LinkedHashMap<>();
        extras.put("relevanceSums", sums);
        return new Attribution(name(), maps, targets.clone(), fx, gap, extras);
    }

    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        if (graph == null) {
            return super.attributeInputs(xs, targets);
        }
        return graphAttribute(xs, targets, new LinkedHashMap<>());
    }

    /**
     * LRP over a ComputationGraph. Relevance reaching a node used by several consumers (a residual skip) is
     * summed; at an element-wise addition (Add, Subtract, Average) it is split in proportion to the inputs'
     * contributions c_i to the sum z = sum_i c_i: R_i = c_i / (z + eps sign(z)) R (a term with a zero denominator
     * gets 0), so relevance is conserved up to the epsilon; a merge splits it by slices; an element-wise Max gives
     * it to the winner. An element-wise Product has no LRP rule here and is refused at construction. The extra
     * "relevanceSums" [n, nodes] holds each graph node's relevance total (parallel branches each hold a share).
     */
    private InputAttributions graphAttribute(INDArray[] xs, int[] targets, Map<String, INDArray> extras) {
        validateInputs(xs, targets);
        int nodes = graph.nodes().size();
        INDArray sums = Nd4j.create(org.nd4j.linalg.api.buffer.DataType.DOUBLE, xs[0].size(0), nodes);
        double[] fx = new double[targets.length];
        INDArray[] maps = batchedInputs(xs, targets, (xp, tp, start) -> {
            List<INDArray> acts = graph.forward(xp);
            INDArray z = acts.get(nodes - 1);
            INDArray r = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                double v = z.getDouble(i, tp[i]);
                r.putScalar(i, tp[i], v);
                fx[(int) start + i] = v;
            }
            INDArray[] sig = graph.propagate(acts, r, 0, this::step, this::combine);
            long nn = xp[0].size(0);
            for (int k = 0; k < nodes; k++) {
                if (sig[k] != null) {
                    INDArray sk = sig[k].reshape('c', nn, sig[k].length() / nn).sum(1).castTo(sums.dataType());
                    sums.get(org.nd4j.linalg.indexing.NDArrayIndex.interval(start, start + nn),
                            org.nd4j.linalg.indexing.NDArrayIndex.point(k)).assign(sk);
                }
            }
            return graph.atInputs(sig, acts);
        });
        double[] total = rowSums(maps);
        double[] gap = new double[total.length];
        for (int i = 0; i < gap.length; i++) {
            gap[i] = total[i] - fx[i];
        }
        extras.put("relevanceSums", sums);
        return new InputAttributions(name(), net.inputNames(), java.util.Arrays.asList(maps), targets.clone(), fx, gap);
    }

    /** The rule at a graph's combine node (package-private for tests). */
    INDArray[] combine(int k, GraphPropagation.Combine c, INDArray[] in, INDArray out, INDArray r) {
        if (c instanceof GraphPropagation.Sum sum) {
            INDArray sign = out.gte(0).castTo(out.dataType()).muli(2).subi(1);
            INDArray q = safeDiv(r, out.add(sign.muli(eps)));
            INDArray[] res = new INDArray[in.length];
            for (int i = 0; i < in.length; i++) {
                res[i] = sum.contribution(in, i).muli(q);
            }
            return res;
        }
        if (c instanceof GraphPropagation.Product) {
            throw noRule(c);
        }
        return c.gradient(in, out, r); // merge: split by slices; max: to the winner
    }

    private IllegalArgumentException noRule(GraphPropagation.Combine c) {
        return new IllegalArgumentException("LRP has no rule for the element-wise Product at vertex '" + c.vertex()
                + "' (relevance through a multiplicative gate is not defined here); use a gradient method (saliency, ig) "
                + "or DeepLIFT on this graph");
    }

    /**
     * The relevance at every activation index (element 0: the input, last: the logits) for one batch, without
     * internal batching: for layer-level relevance maps (each of its layer's shape) and for checking the rules.
     */
    public List<INDArray> relevanceLevels(INDArray x, int[] targets) {
        validate(x, targets);
        if (graph != null) {
            List<INDArray> acts = graph.forward(x);
            INDArray z = acts.get(acts.size() - 1);
            INDArray r = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < targets.length; i++) {
                r.putScalar(i, targets[i], z.getDouble(i, targets[i]));
            }
            return java.util.Arrays.asList(graph.propagate(acts, r, 0, this::step, this::combine));
        }
        List<INDArray> acts = prop.forward(x);
        INDArray z = top(acts);
        INDArray r = Nd4j.zeros(z.dataType(), z.shape());
        for (int i = 0; i < targets.length; i++) {
            r.putScalar(i, targets[i], z.getDouble(i, targets[i]));
        }
        INDArray[] levels = new INDArray[acts.size()];
        prop.propagate(acts, acts.size() - 1, r, 0, this::step, (sig, k) -> levels[k] = sig);
        return java.util.Arrays.asList(levels);
    }

    /** The rule at one step (package-private for tests). */
    INDArray step(int k, Propagation.Step s, INDArray in, INDArray out, INDArray r) {
        if (s instanceof Propagation.Linear lin) {
            return rule == Rule.EPSILON ? epsilonRule(lin, in, out, r) : alphaBetaRule(lin, in, r);
        }
        if (s instanceof Propagation.MaxPool mp) {
            return mp.route(in, r);
        }
        if (s instanceof Propagation.Activation) {
            return r; // ReLU / identity: relevance passes unchanged
        }
        return s.gradient(in, out, r); // reshape
    }

    private INDArray epsilonRule(Propagation.Linear lin, INDArray in, INDArray z, INDArray r) {
        INDArray sign = z.gte(0).castTo(z.dataType()).muli(2).subi(1);
        INDArray den = z.add(sign.muli(eps));
        // guard exact zeros (eps = 0 and z = 0): contribute nothing
        INDArray zeroMask = den.eq(0).castTo(z.dataType());
        INDArray s = r.div(den.addi(zeroMask)).muli(zeroMask.rsub(1.0));
        return in.mul(lin.applyT(s, Propagation.Part.ALL, in.shape()));
    }

    private INDArray alphaBetaRule(Propagation.Linear lin, INDArray in, INDArray r) {
        INDArray inP = Transforms.max(in, 0.0, true);
        INDArray inN = Transforms.min(in, 0.0, true);
        INDArray zp = lin.apply(inP, Propagation.Part.POS, Propagation.Part.POS)
                .addi(lin.apply(inN, Propagation.Part.NEG, null));
        INDArray out = Nd4j.zeros(in.dataType(), in.shape());
        INDArray sp = safeDiv(r, zp);
        out.addi(inP.mul(lin.applyT(sp, Propagation.Part.POS, in.shape())).muli(alpha));
        out.addi(inN.mul(lin.applyT(sp, Propagation.Part.NEG, in.shape())).muli(alpha));
        if (beta != 0) {
            INDArray zn = lin.apply(inP, Propagation.Part.NEG, Propagation.Part.NEG)
                    .addi(lin.apply(inN, Propagation.Part.POS, null));
            INDArray sn = safeDiv(r, zn);
            out.subi(inP.mul(lin.applyT(sn, Propagation.Part.NEG, in.shape())).muli(beta));
            out.subi(inN.mul(lin.applyT(sn, Propagation.Part.POS, in.shape())).muli(beta));
        }
        return out;
    }

    /** r / d where d != 0, else 0. */
    static INDArray safeDiv(INDArray r, INDArray d) {
        INDArray zero = d.eq(0).castTo(d.dataType());
        return r.div(d.add(zero)).muli(zero.rsub(1.0));
    }
}
