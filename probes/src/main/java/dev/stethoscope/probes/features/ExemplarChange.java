package dev.stethoscope.probes.features;

import java.util.HashSet;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.Set;

/**
 * How much a layer's exemplars changed between two snapshots of its top-k (Zeiler &amp; Fergus, Fig. 4: "sudden
 * jumps" when the strongest example of a feature map changes; lower layers settle within a few epochs).
 *
 * <ul>
 *   <li><b>changed fraction</b>: among the units tracked in both snapshots that saw at least one example in
 *       either, the fraction whose top-1 example differs;</li>
 *   <li><b>mean top-k overlap</b>: the mean over those units of {@code |A ∩ B| / max(|A|, |B|)}, A and B the sets
 *       of example indices in the two top-k lists (with full lists, the shared fraction of the top 9);</li>
 *   <li><b>settled at</b>: the first scheduled epoch after which the changed fraction stays below a threshold at
 *       every later snapshot ({@link #DEFAULT_THRESHOLD}).</li>
 * </ul>
 */
public final class ExemplarChange {

    /**
     * Default threshold of "settled": fewer than 10 % of the units change their top-1 example between snapshots
     * (with 16 sampled units: at most one unit).
     */
    public static final double DEFAULT_THRESHOLD = 0.10;

    private ExemplarChange() {
    }

    /**
     * The change between two snapshots of one layer.
     *
     * @param comparedUnits    units tracked in both snapshots with at least one example in either
     * @param changedTop1      how many of them changed their top-1 example
     * @param changedFraction  {@code changedTop1 / comparedUnits} (NaN when no unit was compared)
     * @param meanOverlap      mean top-k overlap in [0, 1] (NaN when no unit was compared)
     */
    public record Change(int comparedUnits, int changedTop1, double changedFraction, double meanOverlap) {
    }

    /** The change from {@code prev} to {@code cur}; units are matched by id. */
    public static Change between(TopKSnapshot prev, TopKSnapshot cur) {
        Objects.requireNonNull(prev, "prev");
        Objects.requireNonNull(cur, "cur");
        int compared = 0;
        int changed = 0;
        double overlap = 0;
        for (int i = 0; i < cur.numUnits(); i++) {
            int p = prev.rowOf(cur.units()[i]);
            if (p < 0) {
                continue;
            }
            long[] a = prev.examples()[p];
            long[] b = cur.examples()[i];
            if (a.length == 0 && b.length == 0) {
                continue;
            }
            compared++;
            if (a.length == 0 || b.length == 0 || a[0] != b[0]) {
                changed++;
            }
            Set<Long> sa = new HashSet<>();
            for (long e : a) {
                sa.add(e);
            }
            int common = 0;
            for (long e : b) {
                if (sa.contains(e)) {
                    common++;
                }
            }
            overlap += (double) common / Math.max(a.length, b.length);
        }
        if (compared == 0) {
            return new Change(0, 0, Double.NaN, Double.NaN);
        }
        return new Change(compared, changed, (double) changed / compared, overlap / compared);
    }

    /** {@link #settledAt(int[], double[], double)} with {@link #DEFAULT_THRESHOLD}. */
    public static OptionalInt settledAt(int[] epochs, double[] changedFractions) {
        return settledAt(epochs, changedFractions, DEFAULT_THRESHOLD);
    }

    /**
     * The first scheduled epoch after which the layer's exemplars stay settled.
     *
     * @param epochs           the snapshot epochs, increasing
     * @param changedFractions per snapshot, the changed fraction since the previous snapshot (the first entry has
     *                         no predecessor and is ignored; NaN counts as not settled)
     * @param threshold        settled means a changed fraction strictly below this
     * @return {@code epochs[i]} for the smallest i before the last snapshot such that every later snapshot's changed
     * fraction is below the threshold; empty when the last change is not below it or there are fewer than two
     * snapshots (nothing after the last snapshot is known)
     */
    public static OptionalInt settledAt(int[] epochs, double[] changedFractions, double threshold) {
        Objects.requireNonNull(epochs, "epochs");
        Objects.requireNonNull(changedFractions, "changedFractions");
        if (epochs.length != changedFractions.length) {
            throw new IllegalArgumentException(epochs.length + " epochs but " + changedFractions.length + " fractions");
        }
        for (int i = 1; i < epochs.length; i++) {
            if (epochs[i] <= epochs[i - 1]) {
                throw new IllegalArgumentException("epochs must increase, got " + epochs[i - 1] + " then " + epochs[i]);
            }
        }
        int n = epochs.length;
        if (n < 2) {
            return OptionalInt.empty();
        }
        int i = n - 1;
        while (i >= 1 && changedFractions[i] < threshold) {
            i--;
        }
        // every change after snapshot i is below the threshold
        return i == n - 1 ? OptionalInt.empty() : OptionalInt.of(epochs[i]);
    }
}
