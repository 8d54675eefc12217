package dev.stethoscope.probes.memorization;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Hyper-parameters of Langevin Adversarial Sample Search (METHODS.md section 5).
 *
 * @param radius        r, half-width of the L-infinity box around x that x~ must stay in
 * @param alpha         step along sign(g)
 * @param beta          standard deviation factor of the Gaussian noise added each step
 * @param maxIterations maximum LASS steps per example
 * @param inputMin      lower bound of valid inputs (e.g. 0 for [0,1] pixels; {@code -Infinity} for none)
 * @param inputMax      upper bound of valid inputs (e.g. 1; {@code +Infinity} for none)
 * @param seed          seed of the Gaussian noise
 * @param certify       whether to skip the examples that interval bounds prove non-critical
 *                      ({@link IntervalBounds}: no search can find a provably robust example
 *                      critical, so the ratio is that of the full search up to the Langevin noise
 *                      draws, at a fraction of the cost)
 */
public record LassParameters(double radius, double alpha, double beta, int maxIterations,
                             double inputMin, double inputMax, long seed, boolean certify)
        implements java.io.Serializable {

    /**
     * The parameters of the public reimplementation used with Arpit et al. (preset {@code "paper"}):
     * r = 0.3/255, alpha = 0.25/255, beta = 0.2/255, 100 steps, [0,1]; certification on. On MNIST this
     * box is so small that almost no validation example is critical (measured in docs/memorization.md,
     * "Default radius: calibration on MNIST").
     */
    public static final LassParameters PAPER = new LassParameters(0.3 / 255, 0.25 / 255, 0.2 / 255, 100, 0.0, 1.0,
            12345L, true);

    /**
     * The defaults (preset {@code "default"}), calibrated on MNIST (docs/memorization.md): r = 4/255,
     * alpha = r * 0.25/0.3 = 3.33/255 and beta = r * 0.2/0.3 = 2.67/255 (the paper preset's ratios to
     * r), 10 steps, [0,1]; certification on. On the sample's MLP the CSR with clean labels and with
     * 40 % label noise barely changes beyond 10 steps (measured in docs/memorization.md, "Default
     * radius: calibration on MNIST"): sign steps of 0.83 r reach the box's corners in two steps, and later steps find almost
     * nothing. Box sizes are data-dependent: recalibrate for other inputs.
     */
    public static final LassParameters DEFAULTS = new LassParameters(4.0 / 255, 4.0 / 255 * 0.25 / 0.3,
            4.0 / 255 * 0.2 / 0.3, 10, 0.0, 1.0, 12345L, true);

    /** Names accepted by {@link #preset(String)}. */
    public static final java.util.List<String> PRESETS = java.util.List.of("default", "paper");

    /** Parameters with certification on. */
    public LassParameters(double radius, double alpha, double beta, int maxIterations,
                          double inputMin, double inputMax, long seed) {
        this(radius, alpha, beta, maxIterations, inputMin, inputMax, seed, true);
    }

    /** Checks the parameters: positive finite radius and alpha, beta &gt;= 0, at least one step, inputMin &lt; inputMax. */
    public LassParameters {
        if (!(radius > 0) || !Double.isFinite(radius)) {
            throw new IllegalArgumentException("LASS radius must be a positive finite number, got " + radius);
        }
        if (!(alpha > 0) || !Double.isFinite(alpha)) {
            throw new IllegalArgumentException("LASS alpha must be a positive finite number, got " + alpha);
        }
        if (!(beta >= 0) || !Double.isFinite(beta)) {
            throw new IllegalArgumentException("LASS beta must be a finite number >= 0, got " + beta);
        }
        if (maxIterations < 1) {
            throw new IllegalArgumentException("LASS maxIterations must be >= 1, got " + maxIterations);
        }
        if (Double.isNaN(inputMin) || Double.isNaN(inputMax) || !(inputMin < inputMax)) {
            throw new IllegalArgumentException("LASS input range must have inputMin < inputMax, got ["
                    + inputMin + ", " + inputMax + "]");
        }
    }

    /** The defaults ({@link #DEFAULTS}). */
    public static LassParameters defaults() {
        return DEFAULTS;
    }

    /**
     * A named preset: {@code "default"} ({@link #DEFAULTS}, calibrated on MNIST) or {@code "paper"}
     * ({@link #PAPER}, r = 0.3/255).
     *
     * @throws IllegalArgumentException for another name, listing the valid ones
     */
    public static LassParameters preset(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(java.util.Locale.ROOT);
        return switch (n) {
            case "default" -> DEFAULTS;
            case "paper" -> PAPER;
            default -> throw new IllegalArgumentException("Unknown LASS preset '" + name + "'. Valid: " + PRESETS);
        };
    }

    /**
     * The preset these parameters equal in radius, alpha, beta and steps ({@code "default"} or
     * {@code "paper"}), or {@code "custom"}.
     */
    public String presetName() {
        for (String n : PRESETS) {
            LassParameters p = preset(n);
            if (p.radius == radius && p.alpha == alpha && p.beta == beta && p.maxIterations == maxIterations) {
                return n;
            }
        }
        return "custom";
    }

    /** These parameters with radius {@code r} (alpha and beta unchanged: scale them too to keep the preset's ratios). */
    public LassParameters withRadius(double r) {
        return new LassParameters(r, alpha, beta, maxIterations, inputMin, inputMax, seed, certify);
    }

    /** These parameters with sign-step size {@code a}. */
    public LassParameters withAlpha(double a) {
        return new LassParameters(radius, a, beta, maxIterations, inputMin, inputMax, seed, certify);
    }

    /** These parameters with noise factor {@code b} (0: no Langevin noise). */
    public LassParameters withBeta(double b) {
        return new LassParameters(radius, alpha, b, maxIterations, inputMin, inputMax, seed, certify);
    }

    /** These parameters with at most {@code n} LASS steps per example. */
    public LassParameters withMaxIterations(int n) {
        return new LassParameters(radius, alpha, beta, n, inputMin, inputMax, seed, certify);
    }

    /** These parameters with valid inputs in [{@code min}, {@code max}] (infinite bounds for none). */
    public LassParameters withInputRange(double min, double max) {
        return new LassParameters(radius, alpha, beta, maxIterations, min, max, seed, certify);
    }

    /** These parameters with noise seed {@code s}. */
    public LassParameters withSeed(long s) {
        return new LassParameters(radius, alpha, beta, maxIterations, inputMin, inputMax, s, certify);
    }

    /** With interval-bound certification on or off ({@code false}: every example is searched). */
    public LassParameters withCertification(boolean on) {
        return new LassParameters(radius, alpha, beta, maxIterations, inputMin, inputMax, seed, on);
    }

    /** The parameters as strings, in a fixed order, for records and the UI. */
    public Map<String, String> asMap() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("preset", presetName());
        m.put("radius", Double.toString(radius));
        m.put("alpha", Double.toString(alpha));
        m.put("beta", Double.toString(beta));
        m.put("maxIterations", Integer.toString(maxIterations));
        m.put("inputMin", Double.toString(inputMin));
        m.put("inputMax", Double.toString(inputMax));
        m.put("seed", Long.toString(seed));
        m.put("certify", Boolean.toString(certify));
        m.put("gradientDirection", "sign of d loss(class predicted at x) / dx (FGSM)");
        return m;
    }
}
