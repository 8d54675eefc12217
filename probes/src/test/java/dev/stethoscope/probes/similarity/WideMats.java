package dev.stethoscope.probes.similarity;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

/**
 * The generator of the wide reference pairs, identical to make_wide_reference.py (resources
 * similarity/wide): splitmix64 uniforms, Box-Muller normals, layer-like ReLU pairs over shared latents
 * with dead (constant) units. Equal to the Python matrices up to matrix-product and libm rounding.
 */
final class WideMats {
    static final int LATENT = 32;
    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private WideMats() {
    }

    /** Uniforms in [0, 1): outputs 1..count of splitmix64 seeded with {@code seed}, top 53 bits. */
    static double[] uniform(long seed, int count) {
        double[] u = new double[count];
        for (int k = 0; k < count; k++) {
            long z = seed + (k + 1L) * GOLDEN;
            z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
            z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
            z = z ^ (z >>> 31);
            u[k] = (z >>> 11) * 0x1.0p-53;
        }
        return u;
    }

    /** rows x cols standard normals, row-major; normals 2i and 2i+1 by Box-Muller from uniforms 2i, 2i+1. */
    static INDArray gaussian(long seed, int rows, int cols) {
        int n = rows * cols;
        double[] u = uniform(seed, n + (n & 1));
        double[] out = new double[u.length];
        for (int i = 0; i < u.length; i += 2) {
            double r = Math.sqrt(-2.0 * Math.log(1.0 - u[i]));
            double t = 2.0 * Math.PI * u[i + 1];
            out[i] = r * Math.cos(t);
            out[i + 1] = r * Math.sin(t);
        }
        return Nd4j.create(java.util.Arrays.copyOf(out, n), new long[]{rows, cols}, 'c');
    }

    /** The pair (A, B) of make_wide_reference.py's {@code pair(na, nb, m, seed)}. */
    static INDArray[] pair(int na, int nb, int m, long seed) {
        INDArray z = gaussian(seed * 1000 + 1, LATENT, m);
        double[] scale = new double[LATENT];
        for (int j = 0; j < LATENT; j++) {
            scale[j] = 1.0 / Math.sqrt(1.0 + j);
        }
        INDArray sc = Nd4j.createFromArray(scale).reshape(1, LATENT);
        INDArray wa = gaussian(seed * 1000 + 2, na, LATENT).muliRowVector(sc);
        INDArray wb = gaussian(seed * 1000 + 3, nb, LATENT).muliRowVector(sc);
        INDArray a = Transforms.relu(wa.mmul(z).addi(gaussian(seed * 1000 + 4, na, m).muli(0.5)), false);
        INDArray b = Transforms.relu(wb.mmul(z).addi(gaussian(seed * 1000 + 5, nb, m).muli(0.5)), false);
        for (int i = 3; i < na; i += 10) {
            a.getRow(i).assign(0.0);
        }
        for (int i = 5; i < nb; i += 13) {
            b.getRow(i).assign(0.7);
        }
        return new INDArray[]{a, b};
    }
}
