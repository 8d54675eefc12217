package dev.stethoscope.sample.data;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Planted label noise: flips exactly {@code round(p * n)} labels, chosen
 * uniformly without replacement, each to a different class chosen uniformly
 * among the other {@code numClasses - 1}. The same labels, fraction and seed
 * always give the same flips ({@link java.util.Random} with the given seed).
 *
 * <p>The flipped indices are written to {@value #FILE_NAME} in the run folder
 * (one index per line after {@code #} comment lines recording p, seed and n),
 * so the mislabeled-data monitors can be scored against them.
 */
public final class LabelNoise {
    /** File name used by {@link Result#writeIndices(Path)} inside a run folder. */
    public static final String FILE_NAME = "flipped-labels.txt";

    private static final Logger log = LoggerFactory.getLogger(LabelNoise.class);

    private LabelNoise() {
    }

    /**
     * The outcome of {@link #flip}.
     *
     * @param labels         the labels after flipping (a new array)
     * @param originalLabels the labels before flipping (a copy)
     * @param flippedIndices indices whose label changed, ascending
     * @param fraction       the fraction p asked for
     * @param seed           the seed used
     * @param numClasses     number of classes
     */
    public record Result(int[] labels, int[] originalLabels, int[] flippedIndices, double fraction, long seed,
                         int numClasses) {
        /** Number of examples. */
        public int size() {
            return labels.length;
        }

        /** Number of flipped labels. */
        public int flippedCount() {
            return flippedIndices.length;
        }

        /** Whether example {@code i}'s label was flipped. */
        public boolean isFlipped(int i) {
            return Arrays.binarySearch(flippedIndices, i) >= 0;
        }

        /**
         * Writes the flipped indices to {@code runDir/}{@value #FILE_NAME}.
         *
         * @return the file written
         */
        public Path writeIndices(Path runDir) throws IOException {
            Files.createDirectories(runDir);
            Path file = runDir.resolve(FILE_NAME);
            writeIndicesTo(file);
            return file;
        }

        /**
         * Writes the flipped indices to {@code file}: a comment header
         * ({@code # label noise p=... seed=... n=... flipped=... classes=...})
         * then one index per line, ascending.
         */
        public void writeIndicesTo(Path file) throws IOException {
            Path parent = file.toAbsolutePath().getParent();
            if (parent != null) {
                Files.createDirectories(parent);
            }
            try (BufferedWriter w = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
                w.write(String.format(Locale.ROOT,
                        "# label noise p=%s seed=%d n=%d flipped=%d classes=%d%n",
                        fraction, seed, labels.length, flippedIndices.length, numClasses));
                w.write("# one flipped example index (position in the training IDX file) per line\n");
                for (int i : flippedIndices) {
                    w.write(Integer.toString(i));
                    w.write('\n');
                }
            }
            log.info("Wrote {} flipped label indices to {}", flippedIndices.length, file);
        }
    }

    /**
     * Flips {@code round(fraction * labels.length)} labels.
     *
     * @param labels     the clean labels (not modified), each in {@code 0..numClasses-1}
     * @param numClasses number of classes (at least 2)
     * @param fraction   fraction p of labels to flip, in [0, 1]
     * @param seed       seed of the random choice
     * @throws IllegalArgumentException on a fraction outside [0, 1], fewer than 2 classes or a label out of range
     */
    public static Result flip(int[] labels, int numClasses, double fraction, long seed) {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("label noise fraction must be in [0, 1], got " + fraction);
        }
        if (numClasses < 2) {
            throw new IllegalArgumentException("label noise needs at least 2 classes, got " + numClasses);
        }
        int n = labels.length;
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= numClasses) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is outside 0.."
                        + (numClasses - 1));
            }
        }
        int k = (int) Math.round(fraction * n);
        Random rng = new Random(seed);
        // partial Fisher-Yates: the first k entries of perm are a uniform sample without replacement
        int[] perm = new int[n];
        for (int i = 0; i < n; i++) {
            perm[i] = i;
        }
        for (int i = 0; i < k; i++) {
            int j = i + rng.nextInt(n - i);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        int[] chosen = Arrays.copyOf(perm, k);
        Arrays.sort(chosen);
        int[] out = labels.clone();
        for (int idx : chosen) {
            int r = rng.nextInt(numClasses - 1);
            out[idx] = r >= labels[idx] ? r + 1 : r;
        }
        log.info("Label noise: flipped {} of {} labels (p={}, seed={})", k, n, fraction, seed);
        return new Result(out, labels.clone(), chosen, fraction, seed, numClasses);
    }

    /**
     * Reads flipped indices written by {@link Result#writeIndicesTo(Path)}
     * (lines starting with {@code #} and blank lines are skipped).
     *
     * @throws IOException if the file cannot be read or a line is not an index (names file and line)
     */
    public static int[] readIndices(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        List<Integer> out = new ArrayList<>();
        for (int ln = 0; ln < lines.size(); ln++) {
            String s = lines.get(ln).trim();
            if (s.isEmpty() || s.startsWith("#")) {
                continue;
            }
            try {
                out.add(Integer.parseInt(s));
            } catch (NumberFormatException e) {
                throw new IOException(file + " line " + (ln + 1) + ": expected an example index, got '" + s + "'");
            }
        }
        return out.stream().mapToInt(Integer::intValue).toArray();
    }
}
