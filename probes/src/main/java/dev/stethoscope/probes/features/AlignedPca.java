package dev.stethoscope.probes.features;

import dev.stethoscope.probes.linalg.Decompositions;
import dev.stethoscope.probes.model.Activations;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.Objects;

/**
 * A 2-d PCA of a layer's activations on a fixed probe set, each epoch aligned to the previous epoch's points by
 * orthogonal Procrustes, so that points do not jump between epochs because of the sign and rotation freedom of
 * principal axes (TensorBoard's projector has no such alignment).
 *
 * <p>PCA: the activations are flattened to {@code [n, features]} (conv: channels x positions), centred per
 * feature, and projected on the two leading right singular vectors ({@link Decompositions#svd}, computed on the
 * smaller side: the transpose when features &lt;= n). Cost grows with {@code min(n, features)^2 * max(n, features)}:
 * keep the probe set to a few thousand points and prefer a dense or pooled layer.
 *
 * <p>Procrustes: the orthogonal {@code R} (rotation or reflection, no scaling, no translation: PCA scores are
 * centred) minimising {@code ||A R - B||_F} is {@code U V^T} for {@code A^T B = U S V^T} (Schönemann 1966).
 */
public final class AlignedPca {

    private AlignedPca() {
    }

    /**
     * A 2-d projection.
     *
     * @param points    {@code [n, 2]} double, centred
     * @param explained per axis, the fraction of the total variance it explains
     */
    public record Projection(INDArray points, double[] explained) {
    }

    /** The PCA of {@code activations} to 2-d, not aligned. */
    public static Projection pca2(INDArray activations) {
        Objects.requireNonNull(activations, "activations");
        INDArray x = Activations.flatten(activations).castTo(DataType.DOUBLE).dup('c');
        long n = x.rows();
        long p = x.columns();
        if (n < 2) {
            throw new IllegalArgumentException("PCA needs at least 2 points, got " + n);
        }
        x.subiRowVector(x.mean(0));
        INDArray scores = Nd4j.zeros(DataType.DOUBLE, n, 2);
        double[] s;
        if (p <= n) {
            Decompositions.Svd svd = Decompositions.svd(x.transpose().dup('c'), true);
            s = svd.s();
            int m = (int) Math.min(2, s.length);
            INDArray dirs = svd.u().get(NDArrayIndex.all(), NDArrayIndex.interval(0, m)).castTo(DataType.DOUBLE);
            scores.get(NDArrayIndex.all(), NDArrayIndex.interval(0, m)).assign(x.mmul(dirs));
        } else {
            Decompositions.Svd svd = Decompositions.svd(x, true);
            s = svd.s();
            int m = (int) Math.min(2, s.length);
            for (int j = 0; j < m; j++) {
                scores.getColumn(j).assign(svd.u().getColumn(j).castTo(DataType.DOUBLE).mul(s[j]));
            }
        }
        double total = 0;
        for (double v : s) {
            total += v * v;
        }
        double[] explained = new double[2];
        for (int j = 0; j < Math.min(2, s.length); j++) {
            explained[j] = total > 0 ? s[j] * s[j] / total : 0;
        }
        return new Projection(scores, explained);
    }

    /**
     * The PCA of {@code activations}, aligned to {@code previous} (same probe set, same order) when given.
     *
     * @param previous the previous epoch's projection, or null for the first epoch
     */
    public static Projection project(INDArray activations, Projection previous) {
        Projection cur = pca2(activations);
        return previous == null ? cur : alignTo(cur, previous);
    }

    /** {@code cur}'s points rotated/reflected onto {@code previous}'s by orthogonal Procrustes. */
    public static Projection alignTo(Projection cur, Projection previous) {
        INDArray r = procrustes(cur.points(), previous.points());
        return new Projection(cur.points().mmul(r), cur.explained().clone());
    }

    /**
     * The orthogonal {@code d x d} matrix R minimising {@code ||a R - b||_F}.
     *
     * @param a {@code [n, d]}
     * @param b {@code [n, d]}, the target
     */
    public static INDArray procrustes(INDArray a, INDArray b) {
        Objects.requireNonNull(a, "a");
        Objects.requireNonNull(b, "b");
        if (a.rank() != 2 || !Arrays.equals(a.shape(), b.shape())) {
            throw new IllegalArgumentException("procrustes needs two [n, d] matrices of one shape, got "
                    + Arrays.toString(a.shape()) + " and " + Arrays.toString(b.shape()));
        }
        int d = (int) a.columns();
        INDArray m = a.castTo(DataType.DOUBLE).transpose().mmul(b.castTo(DataType.DOUBLE)); // d x d
        Decompositions.Svd svd = Decompositions.svd(m, true);
        INDArray u = svd.u().castTo(DataType.DOUBLE).dup('c');
        double[] s = svd.s();
        double tol = (s.length == 0 ? 0 : s[0]) * 1e-12 * d;
        INDArray v = Nd4j.zeros(DataType.DOUBLE, d, d);
        int filled = 0;
        for (int i = 0; i < d; i++) {
            if (s[i] > tol && s[i] > 0) {
                v.getColumn(i).assign(m.transpose().mmul(u.getColumn(i).reshape(d, 1)).reshape(d).divi(s[i]));
                filled++;
            }
        }
        // rank-deficient: complete V (and so R) with any orthonormal directions; they do not change ||aR - b||
        for (int i = filled; i < d; i++) {
            for (int e = 0; e < d; e++) {
                INDArray cand = Nd4j.zeros(DataType.DOUBLE, d);
                cand.putScalar(e, 1.0);
                for (int j = 0; j < i; j++) {
                    INDArray vj = v.getColumn(j);
                    cand.subi(vj.mul(vj.mul(cand).sumNumber().doubleValue()));
                }
                double norm = cand.norm2Number().doubleValue();
                if (norm > 1e-6) {
                    v.getColumn(i).assign(cand.divi(norm));
                    break;
                }
            }
        }
        return u.mmul(v.transpose());
    }
}
