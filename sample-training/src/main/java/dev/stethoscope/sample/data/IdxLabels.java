package dev.stethoscope.sample.data;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Labels read from (or to be written to) an IDX label file: one unsigned byte
 * (0..255) per example.
 *
 * <p>The label array is owned by this object; do not modify it.
 */
public final class IdxLabels {
    private final Path source;
    private final int[] labels;

    /**
     * @param source where the labels came from (for messages), may be {@code null}
     * @param labels the labels, each in 0..255, not copied
     */
    public IdxLabels(Path source, int[] labels) {
        Objects.requireNonNull(labels, "labels");
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] > 255) {
                throw new IllegalArgumentException("label " + i + " is " + labels[i] + ", IDX labels are 0..255");
            }
        }
        this.source = source;
        this.labels = labels;
    }

    /** The file these labels were read from, or {@code null}. */
    public Path source() {
        return source;
    }

    /** Number of labels. */
    public int count() {
        return labels.length;
    }

    /** Label of example {@code i}. */
    public int label(int i) {
        return labels[i];
    }

    /** The labels; not a copy. */
    public int[] values() {
        return labels;
    }

    /** The largest label plus one (0 when empty): the number of classes the labels imply. */
    public int impliedClassCount() {
        int max = -1;
        for (int l : labels) {
            max = Math.max(max, l);
        }
        return max + 1;
    }

    /** The first {@code n} labels (a copy). */
    public IdxLabels head(int n) {
        if (n < 0 || n > labels.length) {
            throw new IllegalArgumentException("head(" + n + ") of " + labels.length + " labels");
        }
        return new IdxLabels(source, Arrays.copyOf(labels, n));
    }
}
