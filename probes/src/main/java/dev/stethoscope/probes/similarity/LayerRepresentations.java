package dev.stethoscope.probes.similarity;

import dev.stethoscope.probes.model.Activations;
import dev.stethoscope.probes.model.LayerSelection;
import org.deeplearning4j.nn.api.Model;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Layer activations of a network over a fixed data set, and their similarity matrices.
 * Forward passes run in inference mode on the model given: pass a
 * {@link dev.stethoscope.probes.model.NetworkCopy} when the original is being trained.
 */
public final class LayerRepresentations {
    static {
        // Representation and Similarity call ND4J ops and LAPACK outside workspaces: make them memory-safe
        dev.stethoscope.probes.linalg.NativeSafety.install();
    }

    private LayerRepresentations() {
    }

    /**
     * Activations of {@code layers} for every row of {@code data}, computed {@code batchSize}
     * examples at a time and concatenated along dimension 0 (detached copies).
     */
    public static Map<String, INDArray> activations(Model model, INDArray data, List<String> layers, int batchSize) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batchSize must be >= 1, got " + batchSize);
        }
        long n = data.size(0);
        Map<String, List<INDArray>> parts = new LinkedHashMap<>();
        for (String l : layers) {
            parts.put(l, new ArrayList<>());
        }
        for (long start = 0; start < n; start += batchSize) {
            long end = Math.min(n, start + batchSize);
            INDArray x = data.get(NDArrayIndex.interval(start, end));
            Map<String, INDArray> acts = Activations.of(model, x, layers);
            for (String l : layers) {
                parts.get(l).add(acts.get(l).dup());
            }
        }
        Map<String, INDArray> out = new LinkedHashMap<>();
        for (String l : layers) {
            List<INDArray> p = parts.get(l);
            out.put(l, p.size() == 1 ? p.get(0) : Nd4j.concat(0, p.toArray(new INDArray[0])));
        }
        return out;
    }

    /**
     * The layer x layer similarity matrix of prepared representations (symmetric methods are
     * computed once per pair; PWCCA is asymmetric and computed for every ordered pair).
     */
    public static SimilarityMatrix matrix(List<String> rowNames, List<Representation> rows, List<String> colNames,
                                          List<Representation> cols, SimilarityMethod method, SimilarityOptions options) {
        int r = rows.size();
        int c = cols.size();
        double[][] v = new double[r][c];
        boolean[][] u = new boolean[r][c];
        boolean sameSet = rows == cols;
        for (int i = 0; i < r; i++) {
            for (int j = 0; j < c; j++) {
                if (sameSet && method != SimilarityMethod.PWCCA && j < i) {
                    v[i][j] = v[j][i];
                    u[i][j] = u[j][i];
                    continue;
                }
                Representation a = rows.get(i);
                Representation b = cols.get(j);
                if (!a.samePoints(b)) {
                    v[i][j] = Double.NaN;
                    continue;
                }
                SimilarityResult res = Similarity.compute(method, a, b, options);
                dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown();
                v[i][j] = res.value();
                u[i][j] = res.underdetermined();
            }
        }
        return new SimilarityMatrix(method, List.copyOf(rowNames), List.copyOf(colNames), v, u);
    }

    /**
     * Compares two networks (or two checkpoints of one) on the same data: the matrix of
     * {@code layersA} of {@code a} (rows) against {@code layersB} of {@code b} (columns).
     *
     * @param a        first network (only forward passes in inference mode; use a copy if it is training)
     * @param layersA  its layers (names or MultiLayerNetwork indices; empty = every layer)
     * @param b        second network
     * @param layersB  its layers (empty = every layer)
     * @param data     inputs [m, ...] fed to both
     * @param method   the measure
     * @param options  SVD-step options (ignored by CKA)
     * @param mode     how rank &gt; 2 activations become matrices
     * @param maxPoints bound on data points in positions mode
     * @param seed     subsampling seed (positions mode)
     */
    public static SimilarityMatrix compareNetworks(Model a, List<String> layersA, Model b, List<String> layersB,
                                                   INDArray data, SimilarityMethod method, SimilarityOptions options,
                                                   ConvMode mode, int maxPoints, long seed) {
        List<String> la = LayerSelection.resolve(a, layersA);
        List<String> lb = LayerSelection.resolve(b, layersB);
        List<Representation> ra = prepare(activations(a, data, la, 256), la, mode, maxPoints, seed);
        List<Representation> rb = prepare(activations(b, data, lb, 256), lb, mode, maxPoints, seed);
        return matrix(la, ra, lb, rb, method, options);
    }

    /** Representations of the given layers' activations, in order. */
    public static List<Representation> prepare(Map<String, INDArray> activations, List<String> layers, ConvMode mode,
                                               int maxPoints, long seed) {
        List<Representation> out = new ArrayList<>();
        for (String l : layers) {
            INDArray act = activations.get(l);
            out.add(Representation.of(ConvRepresentations.toNeuronsByPoints(act, mode, maxPoints, seed),
                    ConvRepresentations.pointLayout(act, mode, maxPoints, seed)));
        }
        return out;
    }
}
