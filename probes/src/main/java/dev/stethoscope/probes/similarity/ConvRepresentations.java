package dev.stethoscope.probes.similarity;

import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.Arrays;
import java.util.Random;

/**
 * Turns layer activations {@code [examples, features]} or {@code [examples, channels, positions...]}
 * (DL4J's NCHW for convolutions, [examples, size, time] for recurrent layers) into the
 * neurons x data points matrix the similarity measures take.
 */
public final class ConvRepresentations {
    private ConvRepresentations() {
    }

    /**
     * The neurons x data points matrix of an activation.
     *
     * <p>Rank 2 activations become their transpose whatever the mode. For rank &gt; 2 see
     * {@link ConvMode}. In {@link ConvMode#POSITIONS_AS_POINTS} the data points are
     * (example, position) pairs in example-major order; when there are more than
     * {@code maxPoints} of them, {@code maxPoints} are drawn without replacement with
     * {@code seed} and kept in their original order, so the same shape and seed always give
     * the same points (comparisons across epochs, or between layers of equal spatial size,
     * stay aligned).
     *
     * @param activation an activation with examples on dimension 0
     * @param mode       how to treat positions
     * @param maxPoints  bound on data points in positions mode (&gt;= 2)
     * @param seed       subsampling seed
     * @return a new double matrix (neurons x data points)
     */
    public static INDArray toNeuronsByPoints(INDArray activation, ConvMode mode, int maxPoints, long seed) {
        if (activation.rank() < 2) {
            throw new IllegalArgumentException("Activation must have rank >= 2 ([examples, ...]), got shape "
                    + Arrays.toString(activation.shape()));
        }
        INDArray x = activation.castTo(DataType.DOUBLE);
        long examples = x.size(0);
        if (x.rank() == 2) {
            return x.transpose().dup('c');
        }
        long channels = x.size(1);
        long positions = x.length() / (examples * channels);
        if (mode == ConvMode.FLATTEN) {
            return x.reshape('c', examples, channels * positions).transpose().dup('c');
        }
        if (maxPoints < 2) {
            throw new IllegalArgumentException("maxPoints must be >= 2, got " + maxPoints);
        }
        // [examples, channels, positions] -> [channels, examples, positions] -> [channels, examples*positions]
        INDArray perm = x.reshape('c', examples, channels, positions).permute(1, 0, 2).dup('c')
                .reshape('c', channels, examples * positions);
        long total = examples * positions;
        if (total <= maxPoints) {
            return perm;
        }
        int[] idx = samplePoints(total, maxPoints, seed);
        return perm.getColumns(idx).dup('c');
    }

    /**
     * A description of the data points {@link #toNeuronsByPoints} produces for {@code activation}:
     * two activations with the same layout give matrices over the same data points. Flattened
     * (and rank 2) activations: "examples=N"; positions mode: also the number of positions and,
     * when subsampled, the bound and seed.
     */
    public static String pointLayout(INDArray activation, ConvMode mode, int maxPoints, long seed) {
        long examples = activation.size(0);
        if (activation.rank() == 2 || mode == ConvMode.FLATTEN) {
            return "examples=" + examples;
        }
        long positions = activation.length() / (examples * activation.size(1));
        String shape = Arrays.toString(Arrays.copyOfRange(activation.shape(), 2, activation.rank()));
        return "examples=" + examples + ",positions=" + shape
                + (examples * positions > maxPoints ? ",sample=" + maxPoints + ",seed=" + seed : "");
    }

    /**
     * {@code count} distinct indices in [0, total), drawn with {@code seed}, sorted ascending.
     */
    public static int[] samplePoints(long total, int count, long seed) {
        if (total > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("Too many data points to subsample: " + total);
        }
        int n = (int) total;
        Random rnd = new Random(seed);
        // partial Fisher-Yates over an index array
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        for (int i = 0; i < count; i++) {
            int j = i + rnd.nextInt(n - i);
            int t = all[i];
            all[i] = all[j];
            all[j] = t;
        }
        int[] out = Arrays.copyOf(all, count);
        Arrays.sort(out);
        return out;
    }

    /** Global average pool over positions: [examples, channels, positions...] to [examples, channels]; rank 2 unchanged. */
    public static INDArray globalAveragePool(INDArray activation) {
        if (activation.rank() <= 2) {
            return activation;
        }
        long examples = activation.size(0);
        long channels = activation.size(1);
        return activation.reshape('c', examples, channels, activation.length() / (examples * channels)).mean(2);
    }
}
