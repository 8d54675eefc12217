package dev.stethoscope.sample.data;

import org.deeplearning4j.nn.conf.inputs.InputType;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Turns IDX data into DL4J arrays.
 *
 * <p>Features stay flat, {@code [n, rows*cols]}, for both models: an MLP takes
 * them as they are ({@link #mlpInputType}), and a CNN is configured with
 * {@code setInputType(InputType.convolutionalFlat(rows, cols, 1))}
 * ({@link #cnnInputType}), which makes DL4J reshape each row to
 * {@code [1, rows, cols]} itself. {@link #toImageShape} gives the explicit
 * {@code [n, 1, rows, cols]} view when one is needed.
 */
public final class DataConversion {
    private DataConversion() {
    }

    /** All images as float features {@code [count, rows*cols]}, pixel / 255 (values in [0, 1]). */
    public static INDArray features(IdxImages images) {
        return features(images, 0, images.count());
    }

    /** Images {@code from} (inclusive) to {@code to} (exclusive) as float features, pixel / 255. */
    public static INDArray features(IdxImages images, int from, int to) {
        if (from < 0 || to > images.count() || from > to) {
            throw new IllegalArgumentException("range [" + from + ", " + to + ") outside 0.." + images.count());
        }
        int ppi = images.pixelsPerImage();
        int n = to - from;
        byte[] src = images.rawPixels();
        float[] out = new float[n * ppi];
        int offset = from * ppi;
        for (int i = 0; i < out.length; i++) {
            out[i] = (src[offset + i] & 0xff) / 255f;
        }
        return Nd4j.create(out, new long[] {n, ppi}, DataType.FLOAT);
    }

    /**
     * One-hot float labels {@code [labels.length, numClasses]}.
     *
     * @throws IllegalArgumentException if a label is outside {@code 0..numClasses-1}
     */
    public static INDArray oneHot(int[] labels, int numClasses) {
        if (numClasses < 1) {
            throw new IllegalArgumentException("numClasses must be >= 1, got " + numClasses);
        }
        float[] out = new float[labels.length * numClasses];
        for (int i = 0; i < labels.length; i++) {
            int l = labels[i];
            if (l < 0 || l >= numClasses) {
                throw new IllegalArgumentException("label " + l + " of example " + i + " is outside 0.."
                        + (numClasses - 1));
            }
            out[i * numClasses + l] = 1f;
        }
        return Nd4j.create(out, new long[] {labels.length, numClasses}, DataType.FLOAT);
    }

    /** The class of each row of one-hot (or probability) rows {@code [n, numClasses]}: the argmax. */
    public static int[] classesOf(INDArray oneHot) {
        return oneHot.argMax(1).toIntVector();
    }

    /** Input type for a CNN over flat features: {@code InputType.convolutionalFlat(rows, cols, 1)}. */
    public static InputType cnnInputType(int rows, int cols) {
        return InputType.convolutionalFlat(rows, cols, 1);
    }

    /** Input type for an MLP over flat features: {@code InputType.feedForward(rows*cols)}. */
    public static InputType mlpInputType(int rows, int cols) {
        return InputType.feedForward((long) rows * cols);
    }

    /** Flat features {@code [n, rows*cols]} reshaped to {@code [n, 1, rows, cols]} (channels first). */
    public static INDArray toImageShape(INDArray flat, int rows, int cols) {
        if (flat.rank() != 2 || flat.size(1) != (long) rows * cols) {
            throw new IllegalArgumentException("expected features [n, " + (rows * cols) + "], got "
                    + java.util.Arrays.toString(flat.shape()));
        }
        return flat.reshape('c', flat.size(0), 1, rows, cols);
    }
}
