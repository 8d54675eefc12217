package dev.stethoscope.probes.dynamics;

import org.nd4j.linalg.api.ndarray.INDArray;

/**
 * Copies an INDArray's values into a Java array in row-major order with as
 * few native operations as possible: a contiguous c-order array is read
 * straight from its buffer (a memory copy, no ND4J op); anything else (views,
 * f-order) is first duplicated in c order (one op). Element-wise readers such
 * as {@code toDoubleMatrix} are far slower, and every native op costs a thread
 * hand-off that is expensive on a busy machine, which matters inside a
 * per-batch training callback.
 */
public final class BulkRead {
    private BulkRead() {
    }

    private static INDArray contiguous(INDArray a) {
        boolean plain = a.ordering() == 'c' && a.offset() == 0 && a.data().length() == a.length()
                && (a.length() <= 1 || a.elementWiseStride() == 1);
        return plain ? a : a.dup('c');
    }

    /** All values, row-major, as doubles. */
    public static double[] doubles(INDArray a) {
        return contiguous(a).data().asDouble();
    }

    /** All values, row-major, as floats. */
    public static float[] floats(INDArray a) {
        return contiguous(a).data().asFloat();
    }
}
