package dev.stethoscope.probes.linalg;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.Random;

/** Not a test: measures LAPACK vs EJML on the similarity step's shapes (run by hand, see docs/PROBES_AND_SIMILARITY.md). */
public final class DecompositionsTimingMain {
    public static void main(String[] args) {
        System.out.println(BackendSelfTest.result());
        int[][] shapes = {{256, 1000}, {512, 1000}, {512, 2000}, {1000, 4000}};
        for (int[] sh : shapes) {
            Random r = new Random(1);
            double[][] d = new double[sh[0]][sh[1]];
            for (double[] row : d) for (int j = 0; j < row.length; j++) row[j] = r.nextGaussian();
            INDArray a = Nd4j.createFromArray(d);
            for (boolean wantU : new boolean[]{true, false}) {
                long[] t = new long[2];
                for (int rep = 0; rep < 3; rep++) {
                    for (Decompositions.Route route : Decompositions.Route.values()) {
                        long t0 = System.nanoTime();
                        Decompositions.svd(a, wantU, route);
                        long dt = System.nanoTime() - t0;
                        if (rep > 0) t[route.ordinal()] += dt;
                    }
                }
                System.out.printf("svd %dx%d wantU=%s: lapack %.0f ms, ejml %.0f ms, ratio ejml/lapack %.1f%n", sh[0], sh[1], wantU,
                        t[0] / 2e6, t[1] / 2e6, (double) t[1] / t[0]);
            }
            if (sh[0] <= 512) {
                INDArray g = a.transpose().mmul(a).get(org.nd4j.linalg.indexing.NDArrayIndex.interval(0, sh[0]), org.nd4j.linalg.indexing.NDArrayIndex.interval(0, sh[0]));
                long[] t = new long[2];
                for (int rep = 0; rep < 3; rep++) {
                    for (Decompositions.Route route : Decompositions.Route.values()) {
                        long t0 = System.nanoTime();
                        Decompositions.symmetricEigen(g, route);
                        long dt = System.nanoTime() - t0;
                        if (rep > 0) t[route.ordinal()] += dt;
                    }
                }
                System.out.printf("eig %dx%d: lapack %.0f ms, ejml %.0f ms, ratio %.1f%n", sh[0], sh[0], t[0] / 2e6, t[1] / 2e6, (double) t[1] / t[0]);
            }
        }
    }
}
