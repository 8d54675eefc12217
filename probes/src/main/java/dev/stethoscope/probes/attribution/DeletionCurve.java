package dev.stethoscope.probes.attribution;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Arrays;
import java.util.Random;

/**
 * Pixel flipping / deletion curve (Bach et al. 2015; Samek et al. 2017): input features are removed (set to
 * {@code fill}) most relevant first, in {@code steps} equal portions; the curve is f_c after each removal
 * (point 0 is the intact input). AOPC = 1/(L+1) sum_{k=0..L} (f_c(x^(0)) - f_c(x^(k))): larger means the
 * ordering found the features the model relies on. {@link #random} gives the same figure for random orderings.
 */
public final class DeletionCurve {

    /**
     * @param curves f_c after each step, per example [n][steps+1]
     * @param aopc   AOPC per example
     */
    public record Result(double[][] curves, double[] aopc) {
        /** Mean AOPC over the examples. */
        public double meanAopc() {
            return Arrays.stream(aopc).average().orElse(Double.NaN);
        }

        /** Mean curve over the examples. */
        public double[] meanCurve() {
            double[] m = new double[curves[0].length];
            for (double[] c : curves) {
                for (int k = 0; k < m.length; k++) {
                    m[k] += c[k] / curves.length;
                }
            }
            return m;
        }
    }

    private final LogitNetwork net;
    private final int batchSize;
    private final int steps;
    private final double fill;

    /**
     * @param steps number of removal portions L (&gt;= 1)
     * @param fill  value a removed feature takes (0 for black MNIST pixels)
     */
    public DeletionCurve(LogitNetwork net, int batchSize, int steps, double fill) {
        if (steps < 1) {
            throw new IllegalArgumentException("Deletion curve needs steps >= 1, got " + steps);
        }
        this.net = net;
        this.batchSize = Math.max(1, batchSize);
        this.steps = steps;
        this.fill = fill;
    }

    /** Curves for the orderings given by relevance maps (most relevant = largest value first). */
    public Result evaluate(INDArray x, INDArray maps, int[] targets) {
        return evaluate(new INDArray[]{x}, 0, maps, targets);
    }

    /**
     * For a network with several inputs: curves for removing the features of input {@code input} only, in the order
     * of its relevance maps (most relevant first), the other inputs kept as they are.
     *
     * @param xs   one array per network input, same number of rows
     * @param maps relevance maps of input {@code input} (its shape)
     */
    public Result evaluate(INDArray[] xs, int input, INDArray maps, int[] targets) {
        INDArray x = xs[input];
        long n = x.size(0);
        long d = x.length() / n;
        INDArray r = maps.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).dup('c').reshape('c', n, d);
        int[][] orders = new int[(int) n][];
        for (int i = 0; i < n; i++) {
            double[] v = r.getRow(i).toDoubleVector();
            Integer[] idx = new Integer[(int) d];
            for (int j = 0; j < d; j++) {
                idx[j] = j;
            }
            Arrays.sort(idx, (a, b) -> Double.compare(v[b], v[a]));
            orders[i] = Arrays.stream(idx).mapToInt(Integer::intValue).toArray();
        }
        return run(xs, input, orders, targets);
    }

    /** Mean over {@code repeats} random orderings, per example. */
    public Result random(INDArray x, int[] targets, int repeats, long seed) {
        return random(new INDArray[]{x}, 0, targets, repeats, seed);
    }

    /**
     * For a network with several inputs: the mean over {@code repeats} random orderings of the features of input
     * {@code input}, the other inputs kept.
     */
    public Result random(INDArray[] xs, int input, int[] targets, int repeats, long seed) {
        INDArray x = xs[input];
        long n = x.size(0);
        int d = (int) (x.length() / n);
        Random rnd = new Random(seed);
        double[][] curves = new double[(int) n][steps + 1];
        for (int rep = 0; rep < repeats; rep++) {
            int[][] orders = new int[(int) n][];
            for (int i = 0; i < n; i++) {
                int[] o = new int[d];
                for (int j = 0; j < d; j++) {
                    o[j] = j;
                }
                for (int j = d - 1; j > 0; j--) {
                    int k = rnd.nextInt(j + 1);
                    int t = o[j];
                    o[j] = o[k];
                    o[k] = t;
                }
                orders[i] = o;
            }
            Result one = run(xs, input, orders, targets);
            for (int i = 0; i < n; i++) {
                for (int k = 0; k <= steps; k++) {
                    curves[i][k] += one.curves()[i][k] / repeats;
                }
            }
        }
        return new Result(curves, aopcs(curves));
    }

    /** AOPC of one curve. */
    public static double aopc(double[] curve) {
        double s = 0;
        for (double v : curve) {
            s += curve[0] - v;
        }
        return s / curve.length;
    }

    /** Rows {@code rows} of an array of any rank, in that order (a copy). */
    private static INDArray pullRows(INDArray a, int[] rows) {
        long d = a.length() / a.size(0);
        INDArray flat = a.dup('c').reshape('c', a.size(0), d);
        INDArray picked = Nd4j.pullRows(flat, 1, rows);
        long[] shape = a.shape().clone();
        shape[0] = rows.length;
        return picked.reshape('c', shape);
    }

    private static double[] aopcs(double[][] curves) {
        return Arrays.stream(curves).mapToDouble(DeletionCurve::aopc).toArray();
    }

    private Result run(INDArray[] xs, int which, int[][] orders, int[] targets) {
        INDArray x = xs[which];
        long n = x.size(0);
        int d = (int) (x.length() / n);
        INDArray rows = x.castTo(net.dataType()).dup('c').reshape('c', n, d);
        double[][] curves = new double[(int) n][steps + 1];
        int per = steps + 1;
        int perPass = Math.max(1, batchSize / per);
        for (int s = 0; s < n; s += perPass) {
            int k = (int) Math.min(perPass, n - s);
            double[] data = new double[k * per * d];
            int[] t = new int[k * per];
            for (int i = 0; i < k; i++) {
                double[] xi = rows.getRow(s + i).castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).toDoubleVector();
                int[] o = orders[s + i];
                double[] cur = xi.clone();
                int removed = 0;
                for (int step = 0; step <= steps; step++) {
                    int target = (int) Math.round((double) step * d / steps);
                    while (removed < target) {
                        cur[o[removed++]] = fill;
                    }
                    System.arraycopy(cur, 0, data, (i * per + step) * d, d);
                    t[i * per + step] = targets[s + i];
                }
            }
            long[] shape = x.shape().clone();
            shape[0] = (long) k * per;
            INDArray batch = Nd4j.createFromArray(data).castTo(net.dataType()).reshape('c', shape);
            INDArray z;
            if (xs.length == 1) {
                z = net.logits(batch, batchSize);
            } else {
                // every other input: each of the k examples' rows repeated once per step
                int[] rep = new int[k * per];
                for (int i = 0; i < rep.length; i++) {
                    rep[i] = s + i / per;
                }
                INDArray[] in = new INDArray[xs.length];
                for (int j = 0; j < xs.length; j++) {
                    in[j] = j == which ? batch : pullRows(xs[j], rep);
                }
                z = net.logits(in, batchSize);
            }
            for (int i = 0; i < k; i++) {
                for (int step = 0; step <= steps; step++) {
                    curves[s + i][step] = z.getDouble(i * per + step, t[i * per + step]);
                }
            }
        }
        return new Result(curves, aopcs(curves));
    }
}
