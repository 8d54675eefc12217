package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.CriticalSamples;
import dev.stethoscope.probes.memorization.CsrResult;
import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabelNoise;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.indexing.NDArrayIndex;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Calibration of the critical-sample-ratio defaults: trains the same model on clean and on
 * noisy labels (the {@code train} command's {@code --label-noise}: that fraction of labels
 * flipped to another class) and, at chosen epochs, measures the CSR on the first validation
 * (test) examples over a grid of LASS radii. For each radius r the step and noise scale with r
 * as in the paper's preset (alpha = r * 0.25/0.3, beta = r * 0.2/0.3); the step count is fixed.
 * Prints one line per (noise, epoch, radius) and, at the end, the clean and noisy CSR side by
 * side per radius, so a default that separates them can be read off.
 */
@Command(name = "calibrate-csr", mixinStandardHelpOptions = true,
        description = "CSR over a grid of LASS radii on clean vs noisy-label training (calibrates the defaults).")
public final class CalibrateCsrCommand implements Callable<Integer> {
    @Option(names = "--model", defaultValue = "mlp", description = "mlp or cnn (default: ${DEFAULT-VALUE}).")
    Models.Kind model;

    @Option(names = "--train-limit", defaultValue = "10000", description = "First N training examples (default: ${DEFAULT-VALUE}).")
    int trainLimit;

    @Option(names = "--epochs", defaultValue = "20", description = "Epochs (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--at", split = ",", defaultValue = "1,5,10,20",
            description = "Epochs after which the CSR grid is measured (default: ${DEFAULT-VALUE}).")
    int[] at;

    @Option(names = "--label-noise", split = ",", defaultValue = "0,0.4",
            description = "Label-noise fractions, one training run each (default: ${DEFAULT-VALUE}).")
    double[] noise;

    @Option(names = "--radii-255", split = ",", defaultValue = "0.3,1,2,4,8,13",
            description = "LASS radii in units of 1/255 (default: ${DEFAULT-VALUE}).")
    double[] radii255;

    @Option(names = "--lass-iterations", defaultValue = "30", description = "LASS maximum steps (default: ${DEFAULT-VALUE}).")
    int lassIterations;

    @Option(names = "--csr-examples", defaultValue = "500", description = "First N test examples searched (default: ${DEFAULT-VALUE}).")
    int csrExamples;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights, shuffling and label noise (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--arpit-batches", split = ",", defaultValue = "500,100",
            description = "Batch sizes for which the CSR under Arpit et al.'s stopping rule is also printed (default: ${DEFAULT-VALUE}).")
    int[] arpitBatches;

    @Mixin
    DataOptions dataOptions;

    /**
     * The CSR that Arpit et al.'s released code would report from the same search: it stops a batch's
     * search after the first step that adds fewer than 20 new critical samples, so only examples found
     * critical up to that step count. Computed from the step at which each example became critical
     * (the Langevin draws of the steps before the stop are the same in both rules).
     */
    static double arpitRuleCsr(CsrResult res, int batch) {
        boolean[] critical = res.critical();
        int[] it = res.iterationsUsed();
        int n = critical.length;
        int steps = res.parameters().maxIterations();
        int found = 0;
        for (int start = 0; start < n; start += batch) {
            int end = Math.min(n, start + batch);
            int[] perStep = new int[steps + 2];
            for (int i = start; i < end; i++) {
                if (critical[i]) {
                    perStep[it[i]]++;
                }
            }
            int stop = steps;
            for (int t = 1; t <= steps; t++) {
                if (perStep[t] < 20) {
                    stop = t;
                    break;
                }
            }
            for (int t = 1; t <= stop; t++) {
                found += perStep[t];
            }
        }
        return found / (double) n;
    }

    @Override
    public Integer call() throws Exception {
        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        LabeledImages test = mnist.test();
        int classes = mnist.numClasses();
        int n = Math.min(csrExamples, test.size());
        INDArray x = test.features().get(NDArrayIndex.interval(0, n), NDArrayIndex.all()).dup();
        int[] atSorted = Arrays.stream(at).sorted().toArray();
        // csr[noise][epoch index][radius]
        double[][][] csr = new double[noise.length][atSorted.length][radii255.length];
        for (int ni = 0; ni < noise.length; ni++) {
            int[] labels = train.labelValues();
            if (noise[ni] > 0) {
                labels = LabelNoise.flip(labels, classes, noise[ni], seed).labels();
            }
            DataSetIterator it = dev.stethoscope.listeners.data.IndexedArrayIterator
                    .builder(train.features(), DataConversion.oneHot(labels, classes)).batchSize(batch).shuffle(seed).build();
            MultiLayerNetwork net = Models.build(model, seed, mnist.rows(), mnist.cols(), classes);
            int ai = 0;
            for (int e = 1; e <= epochs && ai < atSorted.length; e++) {
                net.fit(it);
                if (e != atSorted[ai]) {
                    continue;
                }
                Evaluation ev = net.evaluate(test.iterator(classes, 1000, false, 0));
                NetworkCopy copy = InputGradients.analysisCopy(net);
                for (int ri = 0; ri < radii255.length; ri++) {
                    double r = radii255[ri] / 255.0;
                    LassParameters p = LassParameters.defaults().withRadius(r).withAlpha(r * 0.25 / 0.3)
                            .withBeta(r * 0.2 / 0.3).withMaxIterations(lassIterations);
                    long t0 = System.nanoTime();
                    CsrResult res = CriticalSamples.search(copy, x, p, n, false);
                    double s = (System.nanoTime() - t0) / 1e9;
                    csr[ni][ai][ri] = res.criticalSampleRatio();
                    StringBuilder arpit = new StringBuilder();
                    for (int b : arpitBatches) {
                        arpit.append(String.format(Locale.ROOT, " %.4f (batch %d)", arpitRuleCsr(res, b), b));
                    }
                    // what fewer steps would have found: examples critical within the first T steps
                    arpit.append("; within T steps:");
                    for (int t : new int[]{1, 2, 5, 10, 20}) {
                        if (t < lassIterations) {
                            int c = 0;
                            for (int i = 0; i < n; i++) {
                                c += res.critical()[i] && res.iterationsUsed()[i] <= t ? 1 : 0;
                            }
                            arpit.append(String.format(Locale.ROOT, " T=%d %.4f", t, c / (double) n));
                        }
                    }
                    System.out.printf(Locale.ROOT, "noise %.2f epoch %2d test acc %.4f  r = %5.2f/255 = %.5f: CSR %.4f "
                                    + "(%d critical, %d certified of %d), %.1f s; with Arpit's stopping rule:%s%n",
                            noise[ni], e, ev.accuracy(), radii255[ri], r, res.criticalSampleRatio(), res.numCritical(),
                            res.numCertified(), n, s, arpit);
                }
                ai++;
            }
        }
        System.out.println();
        List<String> head = new ArrayList<>();
        for (double nz : noise) {
            head.add(String.format(Locale.ROOT, "CSR p=%.2f", nz));
        }
        System.out.println("| epoch | r (x/255) | " + String.join(" | ", head) + " |");
        for (int ai = 0; ai < atSorted.length; ai++) {
            for (int ri = 0; ri < radii255.length; ri++) {
                StringBuilder sb = new StringBuilder(String.format(Locale.ROOT, "| %d | %.2f |", atSorted[ai], radii255[ri]));
                for (int ni = 0; ni < noise.length; ni++) {
                    sb.append(String.format(Locale.ROOT, " %.4f |", csr[ni][ai][ri]));
                }
                System.out.println(sb);
            }
        }
        return 0;
    }
}
