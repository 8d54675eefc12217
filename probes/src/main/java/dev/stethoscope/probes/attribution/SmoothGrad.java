package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * SmoothGrad (Smilkov et al. 2017): the average of d f_c/dx over {@code samples} noisy copies x + N(0, sigma^2),
 * sigma = noiseLevel * (max(x) - min(x)) per example.
 */
public final class SmoothGrad extends GradientAttributor {
    private final double noiseLevel;
    private final int samples;
    private final long seed;

    /** On a copy: noise level 0.15, 25 samples, seed 42. */
    public SmoothGrad(NetworkCopy copy) {
        this(logitView(copy), DEFAULT_BATCH, 0.15, 25, 42L);
    }

    /**
     * @param noiseLevel noise standard deviation as a fraction of each example's value range (&gt;= 0)
     * @param samples    noisy copies per example (&gt;= 1)
     * @param seed       random seed (results are reproducible)
     */
    public SmoothGrad(LogitNetwork net, int batchSize, double noiseLevel, int samples, long seed) {
        super(net, batchSize);
        if (noiseLevel < 0 || samples < 1) {
            throw new IllegalArgumentException("SmoothGrad needs noiseLevel >= 0 and samples >= 1; got "
                    + noiseLevel + ", " + samples);
        }
        this.noiseLevel = noiseLevel;
        this.samples = samples;
        this.seed = seed;
    }

    @Override
    public String name() {
        return "smoothgrad";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        INDArray rows = flat(x.castTo(net.dataType()));
        long n = rows.size(0);
        long d = rows.size(1);
        INDArray out = Nd4j.zeros(net.dataType(), n, d);
        org.nd4j.linalg.api.rng.Random rng = Nd4j.getRandomFactory().getNewRandomInstance(seed);
        int perPass = Math.max(1, batchSize / samples);
        for (long s = 0; s < n; s += perPass) {
            int k = (int) Math.min(perPass, n - s);
            INDArray noisy = Nd4j.create(net.dataType(), (long) k * samples, d);
            int[] t = new int[k * samples];
            for (int i = 0; i < k; i++) {
                INDArray xi = rows.getRow(s + i);
                double sigma = noiseLevel * (xi.maxNumber().doubleValue() - xi.minNumber().doubleValue());
                INDArray noise = Nd4j.randn(rng, samples, d).castTo(net.dataType()).muli(sigma);
                for (int j = 0; j < samples; j++) {
                    noisy.getRow((long) i * samples + j).assign(noise.getRow(j).addi(xi));
                    t[i * samples + j] = targets[(int) (s + i)];
                }
            }
            INDArray g = targetGradient(toInputShape(noisy, x), t);
            INDArray gr = g.reshape('c', (long) k * samples, d);
            for (int i = 0; i < k; i++) {
                INDArray block = gr.get(org.nd4j.linalg.indexing.NDArrayIndex.interval((long) i * samples, (long) (i + 1) * samples),
                        org.nd4j.linalg.indexing.NDArrayIndex.all());
                out.getRow(s + i).assign(block.mean(0));
            }
        }
        return new Attribution(name(), toInputShape(out, x), targets.clone(), targetLogits(x, targets), null, null);
    }
}
