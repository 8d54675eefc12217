package dev.stethoscope.probes.similarity;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/** Seeded test matrices (java.util.Random, so ND4J's global RNG is not involved). */
final class Mats {
    private Mats() {
    }

    static INDArray gaussian(Random rnd, int rows, int cols) {
        double[][] d = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                d[i][j] = rnd.nextGaussian();
            }
        }
        return Nd4j.createFromArray(d);
    }

    /** A random orthogonal matrix (left singular vectors of a Gaussian matrix, on the route that passed the self-test). */
    static INDArray orthogonal(Random rnd, int n) {
        return dev.stethoscope.probes.linalg.Decompositions.svd(gaussian(rnd, n, n), true).u();
    }

    /** A representation with a few strong directions: neurons = mix of latent signals plus noise. */
    static INDArray structured(Random rnd, int neurons, int points) {
        INDArray z = gaussian(rnd, 4, points);
        INDArray mix = gaussian(rnd, neurons, 4);
        return mix.mmul(z).addi(gaussian(rnd, neurons, points).muli(0.3));
    }
}
