package dev.stethoscope.sample.cli;

/**
 * Validation of command-line values, run by every command before it reads or writes anything:
 * a bad value stops the command with one message naming the flag, the value and the valid range
 * (and a non-zero exit code, through {@code Main}'s handler). NaN is never in range.
 */
final class Checks {
    private Checks() {
    }

    /** {@code value >= min}. */
    static void atLeast(String flag, long value, long min) {
        if (value < min) {
            throw new IllegalArgumentException(flag + " must be >= " + min + ", got " + value);
        }
    }

    /** {@code min <= value <= max}. */
    static void inRange(String flag, long value, long min, long max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(flag + " must be in " + min + ".." + max + ", got " + value);
        }
    }

    /** A finite value in {@code [min, max]} (or {@code [min, max)} when {@code maxExclusive}). */
    static void inRange(String flag, double value, double min, double max, boolean maxExclusive) {
        boolean ok = Double.isFinite(value) && value >= min && (maxExclusive ? value < max : value <= max);
        if (!ok) {
            throw new IllegalArgumentException(flag + " must be a number in [" + min + ", " + max + (maxExclusive ? ")" : "]")
                    + ", got " + value);
        }
    }

    /** A finite value {@code > 0}. */
    static void positive(String flag, double value) {
        if (!(Double.isFinite(value) && value > 0)) {
            throw new IllegalArgumentException(flag + " must be a finite number > 0, got " + value);
        }
    }

    /** A TCP port to listen on: 0 (any free port) to 65535. */
    static void port(String flag, int port) {
        inRange(flag, port, 0, 65535);
    }
}
