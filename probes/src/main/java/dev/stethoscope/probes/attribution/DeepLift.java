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
}
