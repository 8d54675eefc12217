package dev.stethoscope.probes.features;

import java.util.Arrays;

/**
 * An immutable copy of a {@link StreamingTopK}: for each tracked unit its strongest activations, best first.
 * Units that saw fewer than k examples have shorter lists.
 *
 * @param units    the unit ids (dense: the neuron index; conv: the channel), in tracking order
 * @param k        the capacity per unit
 * @param values   per unit, the activation values, descending
 * @param examples per unit, the example index of each value
 * @param ys       per unit, the row of the position that gave each value (0 for dense units)
 * @param xs       per unit, the column of the position that gave each value (0 for dense units)
 */
public record TopKSnapshot(int[] units, int k, double[][] values, long[][] examples, int[][] ys, int[][] xs) {

    /** Number of tracked units. */
    public int numUnits() {
        return units.length;
    }

    /** Row of unit id {@code unit} in the arrays, or -1 when it is not tracked. */
    public int rowOf(int unit) {
        for (int i = 0; i < units.length; i++) {
            if (units[i] == unit) {
                return i;
            }
        }
        return -1;
    }

    /** The top-1 example of the unit at row {@code row}, or -1 when it saw none. */
    public long top1(int row) {
        return examples[row].length == 0 ? -1 : examples[row][0];
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("TopKSnapshot[k=" + k + "]");
        for (int i = 0; i < units.length; i++) {
            sb.append("\n  unit ").append(units[i]).append(": ").append(Arrays.toString(examples[i]))
                    .append(" ").append(Arrays.toString(values[i]));
        }
        return sb.toString();
    }
}
