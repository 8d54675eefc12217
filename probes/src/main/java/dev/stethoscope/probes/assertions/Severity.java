package dev.stethoscope.probes.assertions;

/** How serious a detector's finding is. Ordered: {@code NONE < WARNING < ERROR}. */
public enum Severity {
    /** Nothing wrong (a detector abstains). */
    NONE,
    /** Training may be impaired; it usually still converges, more slowly or to a worse model. */
    WARNING,
    /** Training is broken (non-finite values, divergence, a mismatched loss); it will not give a usable model. */
    ERROR;

    /** @return the more severe of this and {@code other} */
    public Severity max(Severity other) {
        return other.ordinal() > ordinal() ? other : this;
    }
}
