package dev.stethoscope.listeners.records;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Memorisation signals at the end of one epoch (METHODS.md section 5, Arpit et al. 2017); record
 * type {@value #TYPE_ID}.
 *
 * <ul>
 *   <li>critical sample ratio on the fixed validation subset, found with LASS of radius
 *       {@code csrRadius} (preset {@code csrPreset}), with the LASS and monitor parameters in
 *       {@code parameters};</li>
 *   <li>loss sensitivity g_x = ||dL/dx||_1 on the fixed training subset: Gini coefficient of the
 *       per-example averages over this epoch's measurements and over all measurements so far,
 *       their mean, the number of measurements;</li>
 *   <li>the per-class sensitivity matrix (row i: class of the loss term, column j: class of the
 *       examples), row-major, NaN where a class has no example;</li>
 *   <li>accuracy and loss (inference mode) on the fixed training and validation subsets, with
 *       the training subset's labels as given (corrupted labels if the training data was
 *       randomised), and the mean training minibatch score of the epoch.</li>
 * </ul>
 * Build one with {@link #builder()}.
 *
 * @param criticalSampleRatio       CSR (NaN when not measured this epoch)
 * @param criticalCount             critical examples found
 * @param csrExamples               examples searched
 * @param csrMeanIterations         mean LASS iterations of the critical examples
 * @param csrMillis                 time the search took
 * @param csrCertified              examples interval bounds proved non-critical (not searched)
 * @param csrRadius                 LASS radius r (L-inf, input units); NaN if unknown
 * @param csrPreset                 preset name of the LASS parameters ("default", "paper", "custom"; "" if unknown)
 * @param trainAccuracy             on the training subset
 * @param trainLoss                 on the training subset
 * @param trainExamples             training subset size
 * @param valAccuracy               on the validation subset
 * @param valLoss                   on the validation subset
 * @param valExamples               validation subset size
 * @param trainScoreMean            mean training minibatch score of the epoch
 * @param sensitivityGini           Gini of this epoch's per-example averages
 * @param sensitivityGiniCumulative Gini of the averages over all measurements so far
 * @param sensitivityMean           mean g_x
 * @param sensitivityMeasurements   measurements this epoch
 * @param numClasses                side of the per-class matrix
 * @param perClassSensitivity       the per-class matrix, row-major (numClasses^2 entries)
 * @param parameters                LASS and monitor parameters, in a fixed order
 */
public record Memorization(double criticalSampleRatio, int criticalCount, int csrExamples, double csrMeanIterations,
                           long csrMillis, int csrCertified, double csrRadius, String csrPreset, double trainAccuracy,
                           double trainLoss, int trainExamples, double valAccuracy, double valLoss, int valExamples,
                           double trainScoreMean, double sensitivityGini, double sensitivityGiniCumulative,
                           double sensitivityMean, int sensitivityMeasurements, int numClasses,
                           double[] perClassSensitivity, Map<String, String> parameters) {
    public static final String TYPE_ID = "Stethoscope.Memorization";

    /** Checks the per-class matrix's size; a missing preset becomes "" and missing parameters empty. */
    public Memorization {
        csrPreset = csrPreset == null ? "" : csrPreset;
        parameters = parameters == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(parameters));
        if (numClasses < 0) {
            throw new IllegalArgumentException("numClasses must be >= 0, got " + numClasses);
        }
        if (perClassSensitivity != null && perClassSensitivity.length != (long) numClasses * numClasses) {
            throw new IllegalArgumentException("The per-class matrix must have " + numClasses + "^2 entries, got "
                    + perClassSensitivity.length);
        }
    }

    /** Cell (i, j) of the per-class sensitivity matrix. */
    public double perClassSensitivity(int i, int j) {
        return perClassSensitivity[i * numClasses + j];
    }

    /** A builder; every value not set is 0 (the radius NaN, the preset ""). */
    public static Builder builder() {
        return new Builder();
    }

    /** Builder of {@link Memorization}: keeps the listener readable. */
    public static final class Builder {
        private double criticalSampleRatio;
        private int criticalCount;
        private int csrExamples;
        private double csrMeanIterations;
        private long csrMillis;
        private int csrCertified;
        private double csrRadius = Double.NaN;
        private String csrPreset = "";
        private double trainAccuracy;
        private double trainLoss;
        private int trainExamples;
        private double valAccuracy;
        private double valLoss;
        private int valExamples;
        private double trainScoreMean;
        private double sensitivityGini;
        private double sensitivityGiniCumulative;
        private double sensitivityMean;
        private int sensitivityMeasurements;
        private int numClasses;
        private double[] perClassSensitivity;
        private Map<String, String> parameters = Map.of();

        private Builder() {
        }

        /**
         * The critical sample ratio: {@code ratio} = {@code critical} of {@code examples} searched, the mean LASS
         * steps of the critical ones, and the search's time in milliseconds.
         */
        public Builder csr(double ratio, int critical, int examples, double meanIterations, long millis) {
            this.criticalSampleRatio = ratio;
            this.criticalCount = critical;
            this.csrExamples = examples;
            this.csrMeanIterations = meanIterations;
            this.csrMillis = millis;
            return this;
        }

        /**
         * The LASS radius r the CSR was measured with (L-inf, input units) and the name of its preset
         * ("default", "paper" or "custom"): a CSR means nothing without its radius.
         */
        public Builder csrRadius(double radius, String preset) {
            this.csrRadius = radius;
            this.csrPreset = preset == null ? "" : preset;
            return this;
        }

        /** How many CSR examples interval bounds proved non-critical (so LASS skipped them). */
        public Builder csrCertified(int certified) {
            this.csrCertified = certified;
            return this;
        }

        /** Accuracy and loss on the training subset of {@code examples}, and the epoch's mean training minibatch score. */
        public Builder train(double accuracy, double loss, int examples, double scoreMean) {
            this.trainAccuracy = accuracy;
            this.trainLoss = loss;
            this.trainExamples = examples;
            this.trainScoreMean = scoreMean;
            return this;
        }

        /** Accuracy and loss on the validation subset of {@code examples}. */
        public Builder validation(double accuracy, double loss, int examples) {
            this.valAccuracy = accuracy;
            this.valLoss = loss;
            this.valExamples = examples;
            return this;
        }

        /**
         * Loss sensitivity: Gini of this epoch's per-example averages, Gini over all measurements so far, the mean
         * g_x and the number of measurements this epoch.
         */
        public Builder sensitivity(double gini, double giniCumulative, double mean, int measurements) {
            this.sensitivityGini = gini;
            this.sensitivityGiniCumulative = giniCumulative;
            this.sensitivityMean = mean;
            this.sensitivityMeasurements = measurements;
            return this;
        }

        /** The per-class matrix (square). */
        public Builder perClass(double[][] matrix) {
            int k = matrix.length;
            double[] flat = new double[k * k];
            for (int i = 0; i < k; i++) {
                if (matrix[i].length != k) {
                    throw new IllegalArgumentException("The per-class matrix must be square");
                }
                System.arraycopy(matrix[i], 0, flat, i * k, k);
            }
            this.numClasses = k;
            this.perClassSensitivity = flat;
            return this;
        }

        /** The LASS and monitor parameters shown with the record (copied, in the map's order). */
        public Builder parameters(Map<String, String> params) {
            this.parameters = new LinkedHashMap<>(params);
            return this;
        }

        /** The record; its constructor checks the per-class matrix against the class count. */
        public Memorization build() {
            return new Memorization(criticalSampleRatio, criticalCount, csrExamples, csrMeanIterations, csrMillis,
                    csrCertified, csrRadius, csrPreset, trainAccuracy, trainLoss, trainExamples, valAccuracy, valLoss,
                    valExamples, trainScoreMean, sensitivityGini, sensitivityGiniCumulative, sensitivityMean,
                    sensitivityMeasurements, numClasses, perClassSensitivity, parameters);
        }
    }
}
