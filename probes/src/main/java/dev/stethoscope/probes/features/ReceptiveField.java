package dev.stethoscope.probes.features;

import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.LocalResponseNormalization;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.Arrays;
import java.util.List;
import java.util.Objects;

/**
 * The input window a unit sees (its receptive field) in a MultiLayerNetwork's conv/pooling stack, and the crop of
 * an input inside that window (Zeiler &amp; Fergus, Fig. 2: "the corresponding image patches").
 *
 * <p>Going down one window layer with kernel k, stride s, top/left padding p and dilation d, output rows
 * {@code [a, b]} see input rows {@code [a*s - p, b*s - p + (k-1)*d]} (columns alike). Padding is the configured
 * one in Truncate/Strict mode and DL4J's {@code floor(total/2)} top/left padding in Same mode. Element-wise
 * layers (activation, dropout, batch normalisation, local response normalisation) keep the window. A unit of a
 * dense layer (or anything after the first dense layer) sees the whole input.
 *
 * <p>Windows are in input coordinates and may extend past the borders (padding); {@link #crop} clips them to
 * the image, so crops at the border are smaller than the window and {@link Crop} says where they lie.
 */
public final class ReceptiveField {

    /** Names of the layers this class understands (for error messages). */
    public static final List<String> SUPPORTED = List.of("ConvolutionLayer (2-d, NCHW)", "SubsamplingLayer",
            "ActivationLayer", "DropoutLayer", "BatchNormalization", "LocalResponseNormalization",
            "DenseLayer/OutputLayer (whole input)");

    /**
     * An inclusive window of input rows {@code y0..y1} and columns {@code x0..x1}.
     *
     * @param y0 first row
     * @param y1 last row (inclusive)
     * @param x0 first column
     * @param x1 last column (inclusive)
     */
    public record Window(int y0, int y1, int x0, int x1) {
        /** Number of rows. */
        public int height() {
            return y1 - y0 + 1;
        }

        /** Number of columns. */
        public int width() {
            return x1 - x0 + 1;
        }
    }

    /**
     * A crop of one input.
     *
     * @param pixels  {@code [channels, rows, columns]}, a copy
     * @param clipped the window actually cut out (the receptive field clipped to the image)
     * @param field   the full receptive field (may extend past the image)
     */
    public record Crop(INDArray pixels, Window clipped, Window field) {
    }

    private final int channels;
    private final int inH;
    private final int inW;
    // per layer: kernel, stride, top/left padding, dilation per axis; full = sees the whole input
    private final int[][] geo;
    private final boolean[] full;
    private final int[][] outSize;

    private ReceptiveField(int channels, int inH, int inW, int[][] geo, boolean[] full, int[][] outSize) {
        this.channels = channels;
        this.inH = inH;
        this.inW = inW;
        this.geo = geo;
        this.full = full;
        this.outSize = outSize;
    }

    /**
     * Geometry of a network whose input geometry is known from its first layer's FeedForwardToCnn preprocessor
     * (as {@code InputType.convolutionalFlat} sets up).
     *
     * @throws IllegalArgumentException when there is no such preprocessor (use {@link #of(MultiLayerNetwork, int, int, int)})
     */
    public static ReceptiveField of(MultiLayerNetwork net) {
        InputPreProcessor pp = net.getLayerWiseConfigurations().getInputPreProcess(0);
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return of(net, (int) f.getNumChannels(), (int) f.getInputHeight(), (int) f.getInputWidth());
        }
        throw new IllegalArgumentException("The input geometry is not in the configuration (no FeedForwardToCnn "
                + "preprocessor at layer 0); pass channels, height and width to ReceptiveField.of(net, c, h, w)");
    }

    /**
     * Geometry of a network fed images of {@code channels x height x width}.
     *
     * @throws IllegalArgumentException naming the first layer not in {@link #SUPPORTED}
     */
    public static ReceptiveField of(MultiLayerNetwork net, int channels, int height, int width) {
        Objects.requireNonNull(net, "net");
        if (channels < 1 || height < 1 || width < 1) {
            throw new IllegalArgumentException("input geometry must be positive, got " + channels + "x" + height + "x" + width);
        }
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        int nl = net.getnLayers();
        int[][] geo = new int[nl][];
        boolean[] full = new boolean[nl];
        int[][] out = new int[nl][];
        int h = height;
        int w = width;
        boolean flat = false;
        for (int i = 0; i < nl; i++) {
            Layer l = conf.getConf(i).getLayer();
            InputPreProcessor pp = conf.getInputPreProcess(i);
            if (pp instanceof CnnToFeedForwardPreProcessor) {
                flat = true;
            }
            String where = "layer " + i + " ('" + (l.getLayerName() == null ? i : l.getLayerName()) + "')";
            if (l instanceof DenseLayer || l instanceof OutputLayer) {
                flat = true;
            }
            if (flat) {
                full[i] = true;
                out[i] = new int[]{1, 1};
                continue;
            }
            int[] k;
            int[] s;
            int[] p;
            int[] d;
            ConvolutionMode mode;
            if (l.getClass() == ConvolutionLayer.class || l.getClass() == SubsamplingLayer.class) {
                if (l instanceof ConvolutionLayer c) {
                    k = c.getKernelSize();
                    s = c.getStride();
                    p = c.getPadding();
                    d = c.getDilation();
                    mode = c.getConvolutionMode();
                } else {
                    SubsamplingLayer c = (SubsamplingLayer) l;
                    k = c.getKernelSize();
                    s = c.getStride();
                    p = c.getPadding();
                    d = c.getDilation();
                    mode = c.getConvolutionMode();
                }
                if (mode == ConvolutionMode.Causal) {
                    throw new IllegalArgumentException(where + " uses Causal mode; supported: " + SUPPORTED);
                }
                d = d == null ? new int[]{1, 1} : d;
                p = p == null ? new int[]{0, 0} : p;
                int ekh = (k[0] - 1) * d[0] + 1;
                int ekw = (k[1] - 1) * d[1] + 1;
                int oh;
                int ow;
                int pt;
                int pl;
                if (mode == ConvolutionMode.Same) {
                    oh = (h + s[0] - 1) / s[0];
                    ow = (w + s[1] - 1) / s[1];
                    pt = Math.max(0, (oh - 1) * s[0] + ekh - h) / 2;
                    pl = Math.max(0, (ow - 1) * s[1] + ekw - w) / 2;
                } else {
                    oh = (h + 2 * p[0] - ekh) / s[0] + 1;
                    ow = (w + 2 * p[1] - ekw) / s[1] + 1;
                    pt = p[0];
                    pl = p[1];
                }
                geo[i] = new int[]{k[0], k[1], s[0], s[1], pt, pl, d[0], d[1]};
                h = oh;
                w = ow;
            } else if (l instanceof ActivationLayer || l instanceof DropoutLayer || l instanceof BatchNormalization
                    || l instanceof LocalResponseNormalization) {
                geo[i] = null;
            } else {
                throw new IllegalArgumentException(where + " is a " + l.getClass().getSimpleName()
                        + "; supported: " + SUPPORTED);
            }
            out[i] = new int[]{h, w};
        }
        return new ReceptiveField(channels, height, width, geo, full, out);
    }

    /** Output size {rows, columns} of layer {@code layer} ({1, 1} for dense layers). */
    public int[] outputSize(int layer) {
        return outSize[layer].clone();
    }

    /** True when units of {@code layer} see the whole input. */
    public boolean seesWholeInput(int layer) {
        return full[layer];
    }

    /** The input geometry {channels, rows, columns}. */
    public int[] inputShape() {
        return new int[]{channels, inH, inW};
    }

    /**
     * Size {rows, columns} of the receptive field of any unit of {@code layer} before clipping to the image (it
     * does not depend on the position); the input's size for a unit that sees the whole input.
     */
    public int[] fieldSize(int layer) {
        if (layer < 0 || layer >= geo.length) {
            throw new IllegalArgumentException("layer " + layer + " not in 0.." + (geo.length - 1));
        }
        if (full[layer]) {
            return new int[]{inH, inW};
        }
        long h = 1;
        long w = 1;
        for (int i = layer; i >= 0; i--) {
            int[] g = geo[i];
            if (g != null) {
                h = (h - 1) * g[2] + (long) (g[0] - 1) * g[6] + 1;
                w = (w - 1) * g[3] + (long) (g[1] - 1) * g[7] + 1;
            }
        }
        return new int[]{(int) Math.min(Integer.MAX_VALUE, h), (int) Math.min(Integer.MAX_VALUE, w)};
    }

    /**
     * The largest crop {@link #crop} cuts for a unit of {@code layer}: {channels, min(field rows, input rows),
     * min(field columns, input columns)} (crops at the border are smaller).
     */
    public int[] maxCropShape(int layer) {
        int[] f = fieldSize(layer);
        return new int[]{channels, Math.min(f[0], inH), Math.min(f[1], inW)};
    }

    /** True when the largest crop of a unit of {@code layer} is smaller than the input (see {@link #maxCropShape}). */
    public boolean cropsSmallerThanInput(int layer) {
        int[] c = maxCropShape(layer);
        return (long) c[1] * c[2] < (long) inH * inW;
    }

    /**
     * The input as far as a crop knows it: {@code [channels, rows, columns]} of the crop's data type, the crop's
     * pixels at their place and zeros everywhere else (where the crop did not look).
     *
     * @throws IllegalArgumentException when the crop does not fit this geometry
     */
    public INDArray canvas(Crop crop) {
        Objects.requireNonNull(crop, "crop");
        Window c = crop.clipped();
        long[] sh = crop.pixels().shape();
        if (c.y0() < 0 || c.x0() < 0 || c.y1() >= inH || c.x1() >= inW || sh.length != 3 || sh[0] != channels
                || sh[1] != c.height() || sh[2] != c.width()) {
            throw new IllegalArgumentException("crop of shape " + Arrays.toString(sh) + " at " + c + " does not fit "
                    + channels + "x" + inH + "x" + inW + " inputs");
        }
        INDArray img = Nd4j.zeros(crop.pixels().dataType(), channels, inH, inW);
        img.get(NDArrayIndex.all(), NDArrayIndex.interval(c.y0(), c.y1() + 1), NDArrayIndex.interval(c.x0(), c.x1() + 1))
                .assign(crop.pixels());
        return img;
    }

    /**
     * The receptive field of the unit at position {@code (y, x)} of layer {@code layer}'s output (for dense
     * layers the position is ignored and the whole input is returned).
     */
    public Window window(int layer, int y, int x) {
        if (layer < 0 || layer >= geo.length) {
            throw new IllegalArgumentException("layer " + layer + " not in 0.." + (geo.length - 1));
        }
        if (full[layer]) {
            return new Window(0, inH - 1, 0, inW - 1);
        }
        int[] o = outSize[layer];
        if (y < 0 || y >= o[0] || x < 0 || x >= o[1]) {
            throw new IllegalArgumentException("position (" + y + ", " + x + ") outside layer " + layer + "'s output "
                    + o[0] + "x" + o[1]);
        }
        int y0 = y;
        int y1 = y;
        int x0 = x;
        int x1 = x;
        for (int i = layer; i >= 0; i--) {
            int[] g = geo[i];
            if (g == null) {
                continue;
            }
            y0 = y0 * g[2] - g[4];
            y1 = y1 * g[2] - g[4] + (g[0] - 1) * g[6];
            x0 = x0 * g[3] - g[5];
            x1 = x1 * g[3] - g[5] + (g[1] - 1) * g[7];
        }
        return new Window(y0, y1, x0, x1);
    }

    /**
     * {@link #crop(INDArray, int, int, int)} from one example's values already in Java: {@code image} holds
     * {@code channels x rows x columns} values in NCHW (row-major) order; the crop is made an array of {@code type}.
     * Cheaper when many crops are cut from the same example (one native copy per crop).
     */
    public Crop crop(double[] image, org.nd4j.linalg.api.buffer.DataType type, int layer, int y, int x) {
        Window f = window(layer, y, x);
        if (image.length != (long) channels * inH * inW) {
            throw new IllegalArgumentException("input of " + image.length + " values is not one example of "
                    + channels + "x" + inH + "x" + inW);
        }
        Window c = new Window(Math.max(0, f.y0()), Math.min(inH - 1, f.y1()), Math.max(0, f.x0()), Math.min(inW - 1, f.x1()));
        int h = c.height();
        int w = c.width();
        double[] px = new double[channels * h * w];
        int o = 0;
        for (int ch = 0; ch < channels; ch++) {
            for (int r = 0; r < h; r++) {
                System.arraycopy(image, (ch * inH + c.y0() + r) * inW + c.x0(), px, o, w);
                o += w;
            }
        }
        return new Crop(Nd4j.create(px, new long[]{channels, h, w}, type), c, f);
    }

    /**
     * Cuts the receptive field of unit {@code (layer, y, x)} out of one input, clipped to the image.
     *
     * @param input one example: {@code [c, h, w]}, {@code [1, c, h, w]}, or flat {@code [c*h*w]} / {@code [1, c*h*w]}
     *              in NCHW order
     */
    public Crop crop(INDArray input, int layer, int y, int x) {
        Window f = window(layer, y, x);
        if (input.length() != (long) channels * inH * inW) {
            throw new IllegalArgumentException("input of shape " + Arrays.toString(input.shape()) + " is not one example of "
                    + channels + "x" + inH + "x" + inW);
        }
        INDArray img = input.reshape('c', channels, inH, inW); // a view when possible; only the window is copied
        Window c = new Window(Math.max(0, f.y0()), Math.min(inH - 1, f.y1()), Math.max(0, f.x0()), Math.min(inW - 1, f.x1()));
        INDArray px = img.get(NDArrayIndex.all(), NDArrayIndex.interval(c.y0(), c.y1() + 1),
                NDArrayIndex.interval(c.x0(), c.x1() + 1)).dup('c');
        return new Crop(px, c, f);
    }
}
