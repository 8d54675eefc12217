package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.Locale;

/**
 * Integrated Gradients (Sundararajan et al. 2017):
 * IG_i = (x_i - x'_i) * integral_0^1 d f_c(x' + a (x - x')) / dx_i da, approximated by a quadrature rule.
 * {@link Rule#RIEMANN_RIGHT} is METHODS.md's formula (1/m) sum_{k=1..m} at a = k/m.
 * The completeness gap sum_i IG_i - (f_c(x) - f_c(x')) is reported per example.
 *
 * <p>All steps of a group of examples go through DL4J's backward pass together, at most
 * max(batchSize, steps) rows at a time.
 */
public final class IntegratedGradients extends GradientAttributor {

    /** Quadrature rule over the path a in [0, 1]. */
    public enum Rule {
        /** a = (k-1)/m, k = 1..m. */
        RIEMANN_LEFT,
        /** a = k/m, k = 1..m (the paper's formula). */
        RIEMANN_RIGHT,
        /** a = (k-1/2)/m. */
        RIEMANN_MIDDLE,
        /** a = k/m, k = 0..m, end points weighted 1/2 (m+1 gradient evaluations). */
        TRAPEZOID,
        /** m-point Gauss-Legendre nodes on [0, 1]. */
        GAUSS_LEGENDRE;

        /** Parses a name such as "riemann_right" or "gauss-legendre"; the error lists valid names. */
        public static Rule parse(String s) {
            String k = s.trim().toUpperCase(Locale.ROOT).replace('-', '_');
            for (Rule r : values()) {
                if (r.name().equals(k)) {
                    return r;
                }
            }
            throw new IllegalArgumentException("Unknown IG rule '" + s + "'. Valid: " + Arrays.toString(values()));
        }
    }

    /** Default number of steps. */
    public static final int DEFAULT_STEPS = 50;

    private final int steps;
    private final Rule rule;
    private final INDArray baseline;

    /** On a copy: zero baseline, 50 steps, right Riemann sum. */
    public IntegratedGradients(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH, DEFAULT_STEPS, Rule.RIEMANN_RIGHT, null);
    }

    /**
     * @param steps    number of path steps m (&gt;= 1)
     * @param rule     quadrature rule
     * @param baseline x' (one example's shape, or the batch's); null means all zeros
     */
    public IntegratedGradients(LogitNetwork net, int batchSize, int steps, Rule rule, INDArray baseline) {
        super(net, batchSize);
        if (steps < 1) {
            throw new IllegalArgumentException("IG steps must be >= 1, got " + steps);
        }
        this.steps = steps;
        this.rule = rule == null ? Rule.RIEMANN_RIGHT : rule;
        this.baseline = baseline;
    }

    @Override
    public String name() {
        return "ig";
    }

    /** Path points a_k and weights w_k (sum w_k = 1) of the rule with m steps. */
    public static double[][] nodes(Rule rule, int m) {
        double[] a;
        double[] w;
        switch (rule) {
            case RIEMANN_LEFT, RIEMANN_RIGHT, RIEMANN_MIDDLE -> {
                a = new double[m];
                w = new double[m];
                double off = rule == Rule.RIEMANN_LEFT ? 0 : rule == Rule.RIEMANN_RIGHT ? 1 : 0.5;
                for (int k = 0; k < m; k++) {
                    a[k] = (k + off) / m;
                    w[k] = 1.0 / m;
                }
            }
            case TRAPEZOID -> {
                a = new double[m + 1];
                w = new double[m + 1];
                for (int k = 0; k <= m; k++) {
                    a[k] = (double) k / m;
                    w[k] = (k == 0 || k == m) ? 0.5 / m : 1.0 / m;
                }
            }
            case GAUSS_LEGENDRE -> {
                a = new double[m];
                w = new double[m];
                for (int i = 0; i < m; i++) {
                    // Newton iteration on the Legendre polynomial P_m from the Chebyshev-like initial guess
                    double z = Math.cos(Math.PI * (i + 0.75) / (m + 0.5));
                    double dp = 1;
                    for (int it = 0; it < 100; it++) {
                        double p0 = 1;
                        double p1 = z;
                        for (int j = 2; j <= m; j++) {
                            double p2 = ((2.0 * j - 1) * z * p1 - (j - 1.0) * p0) / j;
                            p0 = p1;
                            p1 = p2;
                        }
                        double pm = m == 1 ? z : p1;
                        double pm1 = m == 1 ? 1 : p0;
                        dp = m * (z * pm - pm1) / (z * z - 1);
                        double dz = pm / dp;
                        z -= dz;
                        if (Math.abs(dz) < 1e-15) {
                            break;
                        }
                    }
                    a[i] = (1 - z) / 2;
                    w[i] = 1.0 / ((1 - z * z) * dp * dp);
                }
            }
            default -> throw new IllegalStateException(rule.name());
        }
        return new double[][]{a, w};
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        INDArray xr = flat(x.castTo(net.dataType()));
        INDArray br = baselineRows(baseline, x);
        long n = xr.size(0);
        long d = xr.size(1);
        double[][] nw = nodes(rule, steps);
        double[] alpha = nw[0];
        double[] weight = nw[1];
        int m = alpha.length;
        INDArray alphaCol = Nd4j.createFromArray(alpha).castTo(net.dataType()).reshape(m, 1);
        INDArray weightRow = Nd4j.createFromArray(weight).castTo(net.dataType()).reshape(1, m);
        INDArray out = Nd4j.create(net.dataType(), n, d);
        int perPass = Math.max(1, batchSize / m);
        for (long s = 0; s < n; s += perPass) {
            int k = (int) Math.min(perPass, n - s);
            INDArray path = Nd4j.create(net.dataType(), (long) k * m, d);
            int[] t = new int[k * m];
            for (int i = 0; i < k; i++) {
                INDArray diff = xr.getRow(s + i).sub(br.getRow(s + i)).reshape(1, d);
                INDArray block = alphaCol.mmul(diff).addiRowVector(br.getRow(s + i));
                path.get(NDArrayIndex.interval((long) i * m, (long) (i + 1) * m), NDArrayIndex.all()).assign(block);
                Arrays.fill(t, i * m, (i + 1) * m, targets[(int) (s + i)]);
            }
            INDArray g = weightedGradient(toInputShape(path, x), oneHot(t)).reshape('c', (long) k * m, d);
            for (int i = 0; i < k; i++) {
                INDArray block = g.get(NDArrayIndex.interval((long) i * m, (long) (i + 1) * m), NDArrayIndex.all());
                INDArray avg = weightRow.mmul(block);
                out.getRow(s + i).assign(avg.muli(xr.getRow(s + i).sub(br.getRow(s + i)).reshape(1, d)));
            }
        }
        double[] fx = targetLogits(x, targets);
        double[] fb = targetLogits(toInputShape(br, x), targets);
        double[] sums = rowSums(out);
        double[] gap = new double[(int) n];
        for (int i = 0; i < n; i++) {
            gap[i] = sums[i] - (fx[i] - fb[i]);
        }
        java.util.Map<String, INDArray> extras = new java.util.LinkedHashMap<>();
        extras.put("baselineScore", Nd4j.createFromArray(fb));
        return new Attribution(name(), toInputShape(out, x), targets.clone(), fx, gap, extras);
    }

    /**
     * IG for a network with several inputs: every input moves along its own straight path from its baseline
     * (zeros; the configured baseline applies to a single-input network only) with the same a, so the maps of
     * all inputs together satisfy completeness: sum over inputs of sum(IG) = f_c(x) - f_c(x').
     */
    @Override
    public InputAttributions attributeInputs(INDArray[] xs, int[] targets) {
        if (xs.length == 1) {
            Attribution a = attribute(xs[0], targets);
            return new InputAttributions(a.method(), net.inputNames(), java.util.List.of(a.maps()), a.targets(),
                    a.targetScores(), a.completenessGap());
        }
        validateInputs(xs, targets);
        double[][] nw = nodes(rule, steps);
        INDArray[] x = new INDArray[xs.length];
        INDArray[] acc = new INDArray[xs.length];
        INDArray[] base = new INDArray[xs.length];
        for (int i = 0; i < xs.length; i++) {
            x[i] = xs[i].castTo(net.dataType());
            base[i] = Nd4j.zeros(net.dataType(), xs[i].shape());
            acc[i] = Nd4j.zeros(net.dataType(), xs[i].shape());
        }
        INDArray w = oneHot(targets);
        for (int k = 0; k < nw[0].length; k++) {
            INDArray[] path = new INDArray[xs.length];
            for (int i = 0; i < xs.length; i++) {
                path[i] = x[i].sub(base[i]).muli(nw[0][k]).addi(base[i]);
            }
            INDArray[] g = net.gradients(path, w, batchSize);
            for (int i = 0; i < xs.length; i++) {
                acc[i].addi(g[i].muli(nw[1][k]));
            }
        }
        java.util.List<INDArray> maps = new java.util.ArrayList<>();
        double[] sums = new double[targets.length];
        for (int i = 0; i < xs.length; i++) {
            INDArray m = acc[i].muli(x[i].sub(base[i]));
            maps.add(m);
            double[] r = rowSums(m);
            for (int e = 0; e < r.length; e++) {
                sums[e] += r[e];
            }
        }
        double[] fx = targetLogits(xs, targets);
        double[] fb = targetLogits(base, targets);
        double[] gap = new double[targets.length];
        for (int e = 0; e < gap.length; e++) {
            gap[e] = sums[e] - (fx[e] - fb[e]);
        }
        return new InputAttributions(name(), net.inputNames(), maps, targets.clone(), fx, gap);
    }
}
