package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Occlusion sensitivity (Zeiler &amp; Fergus 2014): a patch of {@code fill} values (all channels) slides over the
 * image with the given stride; each position's drop f_c(x) - f_c(x with the patch) is credited to every pixel
 * under the patch, and each pixel's map value is the mean drop over the patches that covered it (0 if none).
 */
public final class Occlusion extends PerturbationAttributor {
    private final int patchH;
    private final int patchW;
    private final int strideH;
    private final int strideW;
    private final double fill;
    private final long[] imageShape;

    /** On a copy: 3x3 patch, stride 1, fill 0, geometry from the network. */
    public Occlusion(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH, 3, 3, 1, 1, 0.0, null);
    }

    /**
     * @param imageShape {channels, height, width} of one example, or null to infer it
     */
    public Occlusion(LogitNetwork net, int batchSize, int patchH, int patchW, int strideH, int strideW, double fill,
                     long[] imageShape) {
        super(net, batchSize);
        if (patchH < 1 || patchW < 1 || strideH < 1 || strideW < 1) {
            throw new IllegalArgumentException("Occlusion patch and stride must be >= 1; got patch " + patchH + "x"
                    + patchW + ", stride " + strideH + "x" + strideW);
        }
        this.patchH = patchH;
        this.patchW = patchW;
        this.strideH = strideH;
        this.strideW = strideW;
        this.fill = fill;
        this.imageShape = imageShape;
    }

    @Override
    public String name() {
        return "occlusion";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        long[] g = geometry(x, imageShape);
        int c = (int) g[0];
        int h = (int) g[1];
        int w = (int) g[2];
        int ph = Math.min(patchH, h);
        int pw = Math.min(patchW, w);
        INDArray rows = flat(x.castTo(net.dataType()));
        int n = (int) rows.size(0);
        int d = (int) rows.size(1);
        int ny = (h - ph) / strideH + 1;
        int nx = (w - pw) / strideW + 1;
        int positions = ny * nx;
        double[] fx = targetLogits(x, targets);
        double[] sum = new double[n * d];
        double[] count = new double[n * d];
        int perPass = Math.max(1, batchSize / positions);
        for (int s = 0; s < n; s += perPass) {
            int k = Math.min(perPass, n - s);
            INDArray batch = Nd4j.create(net.dataType(), (long) k * positions, d);
            int[] t = new int[k * positions];
            for (int i = 0; i < k; i++) {
                INDArray xi = rows.getRow(s + i);
                for (int p = 0; p < positions; p++) {
                    int row = i * positions + p;
                    INDArray r = batch.getRow(row);
                    r.assign(xi);
                    int y0 = (p / nx) * strideH;
                    int x0 = (p % nx) * strideW;
                    for (int ch = 0; ch < c; ch++) {
                        for (int yy = y0; yy < y0 + ph; yy++) {
                            for (int xx = x0; xx < x0 + pw; xx++) {
                                r.putScalar((long) ch * h * w + (long) yy * w + xx, fill);
                            }
                        }
                    }
                    t[row] = targets[s + i];
                }
            }
            double[] f = scores(batch, x, t);
            for (int i = 0; i < k; i++) {
                int e = s + i;
                for (int p = 0; p < positions; p++) {
                    double drop = fx[e] - f[i * positions + p];
                    int y0 = (p / nx) * strideH;
                    int x0 = (p % nx) * strideW;
                    for (int ch = 0; ch < c; ch++) {
                        for (int yy = y0; yy < y0 + ph; yy++) {
                            for (int xx = x0; xx < x0 + pw; xx++) {
                                int idx = e * d + ch * h * w + yy * w + xx;
                                sum[idx] += drop;
                                count[idx] += 1;
                            }
                        }
                    }
                }
            }
        }
        for (int i = 0; i < sum.length; i++) {
            sum[i] = count[i] == 0 ? 0 : sum[i] / count[i];
        }
        INDArray maps = Nd4j.createFromArray(sum).reshape('c', n, d).castTo(net.dataType());
        return new Attribution(name(), toInputShape(maps, x), targets.clone(), fx, null, null);
    }
}
