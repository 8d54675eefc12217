package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.RandomizedIterator;
import dev.stethoscope.probes.memorization.Randomization;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import picocli.CommandLine;

import java.util.Locale;

/**
 * The {@code --corrupt} option: Zhang et al.'s randomisation tests (METHODS.md
 * section 6) as {@link RandomizedIterator} wrappers.
 *
 * <p>Values: {@code none}, {@code labels:P} (each training label replaced with
 * probability P by a uniformly random class), {@code random-labels},
 * {@code shuffled-pixels} (one permutation for all images), {@code random-pixels}
 * (one permutation per image), {@code gaussian} (pixels from a Gaussian with the
 * training set's mean and variance). Label corruptions apply to training data
 * only (test labels stay true, so test accuracy measures generalisation); pixel
 * transforms apply to training and test data alike: shuffled pixels use the same
 * permutation for both, while Gaussian pixels and random-pixel permutations are drawn
 * independently for test examples (test example i is not training example i's input).
 *
 * <pre>{@code
 * CorruptionOption c = CorruptionOption.parse("labels:0.2");
 * CorruptionOption.Applied a = c.apply(trainIter, seed);
 * DataSetIterator train = a.train(trainIter), test = a.test(testIter);
 * }</pre>
 */
public final class CorruptionOption {
    /** Valid values, for messages and help. */
    public static final String CHOICES = "none, labels:P (0<=P<=1), random-labels, shuffled-pixels, random-pixels, gaussian";

    /** The kinds of corruption. */
    public enum Kind {
        NONE, LABELS, RANDOM_LABELS, SHUFFLED_PIXELS, RANDOM_PIXELS, GAUSSIAN
    }

    private final Kind kind;
    private final double probability;

    private CorruptionOption(Kind kind, double probability) {
        this.kind = kind;
        this.probability = probability;
    }

    /** No corruption. */
    public static CorruptionOption none() {
        return new CorruptionOption(Kind.NONE, 0);
    }

    /**
     * Parses a {@code --corrupt} value.
     *
     * @throws IllegalArgumentException listing the valid values
     */
    public static CorruptionOption parse(String value) {
        if (value == null) {
            throw new IllegalArgumentException("--corrupt needs a value: " + CHOICES);
        }
        String v = value.trim().toLowerCase(Locale.ROOT);
        switch (v) {
            case "none":
                return none();
            case "random-labels":
                return new CorruptionOption(Kind.RANDOM_LABELS, 1);
            case "shuffled-pixels":
                return new CorruptionOption(Kind.SHUFFLED_PIXELS, 0);
            case "random-pixels":
                return new CorruptionOption(Kind.RANDOM_PIXELS, 0);
            case "gaussian":
                return new CorruptionOption(Kind.GAUSSIAN, 0);
            default:
                break;
        }
        if (v.startsWith("labels:")) {
            double p;
            try {
                p = Double.parseDouble(v.substring("labels:".length()));
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("Bad --corrupt value '" + value + "': P must be a number in [0, 1]. Valid: " + CHOICES);
            }
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("Bad --corrupt value '" + value + "': P must be in [0, 1]. Valid: " + CHOICES);
            }
            return new CorruptionOption(Kind.LABELS, p);
        }
        throw new IllegalArgumentException("Unknown --corrupt value '" + value + "'. Valid: " + CHOICES);
    }

    public Kind kind() {
        return kind;
    }

    /** Label replacement probability (labels:P; 1 for random labels; 0 otherwise). */
    public double probability() {
        return probability;
    }

    /** Whether training labels are changed. */
    public boolean changesLabels() {
        return kind == Kind.LABELS || kind == Kind.RANDOM_LABELS;
    }

    /** Whether pixels are changed (training and test). */
    public boolean changesPixels() {
        return kind == Kind.SHUFFLED_PIXELS || kind == Kind.RANDOM_PIXELS || kind == Kind.GAUSSIAN;
    }

    /**
     * Resolves the transform for a run.
     *
     * @param trainData the (uncorrupted) training iterator; read once for the Gaussian's mean and variance
     * @param seed      seed of the corruption
     */
    public Applied apply(DataSetIterator trainData, long seed) {
        Randomization r = switch (kind) {
            case NONE -> null;
            case LABELS -> Randomization.corruptLabels(probability, seed);
            case RANDOM_LABELS -> Randomization.randomLabels(seed);
            case SHUFFLED_PIXELS -> Randomization.shuffledPixels(seed);
            case RANDOM_PIXELS -> Randomization.randomPixels(seed);
            case GAUSSIAN -> Randomization.gaussianLike(trainData, seed);
        };
        return new Applied(this, r);
    }

    @Override
    public String toString() {
        return switch (kind) {
            case NONE -> "none";
            case LABELS -> "labels:" + probability;
            default -> kind.name().toLowerCase(Locale.ROOT).replace('_', '-');
        };
    }

    /** A corruption resolved for one run. */
    public static final class Applied {
        private final CorruptionOption option;
        private final Randomization randomization;

        private Applied(CorruptionOption option, Randomization randomization) {
            this.option = option;
            this.randomization = randomization;
        }

        /** The transform, or null for none. */
        public Randomization randomization() {
            return randomization;
        }

        /** The training iterator to fit on (wrapped unless none). */
        public DataSetIterator train(DataSetIterator train) {
            return randomization == null ? train : new RandomizedIterator(train, randomization);
        }

        /**
         * The test iterator to evaluate on (wrapped for pixel transforms only). Per-example draws
         * (Gaussian pixels, random-pixel permutations) are independent of the training examples'
         * ({@link Randomization#forHeldOutData()}); shuffled pixels use the training permutation.
         */
        public DataSetIterator test(DataSetIterator test) {
            return randomization != null && option.changesPixels()
                    ? new RandomizedIterator(test, randomization.forHeldOutData()) : test;
        }

        /** A one-line description with the parameters. */
        public String describe() {
            return randomization == null ? "none" : randomization.describe();
        }
    }

    /** picocli converter: {@code @Option(names = "--corrupt", converter = CorruptionOption.Converter.class)}. */
    public static final class Converter implements CommandLine.ITypeConverter<CorruptionOption> {
        @Override
        public CorruptionOption convert(String value) {
            try {
                return parse(value);
            } catch (IllegalArgumentException e) {
                throw new CommandLine.TypeConversionException(e.getMessage());
            }
        }
    }
}
