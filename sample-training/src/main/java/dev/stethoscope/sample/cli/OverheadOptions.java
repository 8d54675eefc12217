package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.Models;
import picocli.CommandLine.Option;

/**
 * The flags shared by the overhead benchmarks ({@code bench-health}, {@code bench-memorization},
 * {@code bench-suspects}): which model, how long each run trains, and how many runs of each
 * kind ({@link dev.stethoscope.sample.bench.OverheadRuns}), as a picocli mixin.
 */
public final class OverheadOptions {
    @Option(names = "--model", defaultValue = "mlp", description = "mlp or cnn (default: ${DEFAULT-VALUE}).")
    Models.Kind model;

    @Option(names = "--epochs", defaultValue = "3", description = "Epochs of each run (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train-limit", defaultValue = "0", description = "First N training examples (0 = all).")
    int trainLimit;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--pairs", defaultValue = "2",
            description = "Runs without and with the monitor, each, in ABBA order (default: ${DEFAULT-VALUE}).")
    int pairs;

    /** Checks the flags before anything runs. */
    void validate() {
        Checks.atLeast("--epochs", epochs, 1);
        Checks.atLeast("--train-limit", trainLimit, 0);
        Checks.atLeast("--batch", batch, 1);
        Checks.atLeast("--pairs", pairs, 1);
    }
}
