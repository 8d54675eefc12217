package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.conf.CNN2DFormat;
import org.deeplearning4j.nn.conf.ConvolutionMode;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.DropoutLayer;
import org.deeplearning4j.nn.conf.layers.GlobalPoolingLayer;
import org.deeplearning4j.nn.conf.layers.Layer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.conf.preprocessor.CnnToFeedForwardPreProcessor;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.activations.IActivation;
import org.nd4j.linalg.activations.impl.ActivationIdentity;
import org.nd4j.linalg.activations.impl.ActivationReLU;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.convolution.Convolution;
import org.nd4j.linalg.factory.Broadcast;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * A MultiLayerNetwork unrolled into elementary steps (reshape, linear map, element-wise activation, max
 * pooling) over the copy's own parameter views, so that backward passes with rules other than the chain rule
 * (LRP, DeepLIFT, guided backprop, deconvnet) can run layer by layer. Forward passes are in inference mode
 * (dropout is skipped). The last step is the output layer's linear map: its output is the pre-softmax logits.
 *
 * <p>Supported: DenseLayer, OutputLayer, ConvolutionLayer (NCHW, dilation 1, Truncate/Strict/Same mode),
 * SubsamplingLayer (MAX or AVG, NCHW, no padding), ActivationLayer, DropoutLayer, and the
 * CnnToFeedForward / FeedForwardToCnn preprocessors. Anything else fails at construction naming the layer.
 */
public final class Propagation {

    /** Which part of the weights (or bias) a linear step uses: all, the positive part, the negative part. */
    public enum Part {
        /** Every entry. */
        ALL(Double.NEGATIVE_INFINITY, Double.POSITIVE_INFINITY),
        /** The positive entries; the others are 0. */
        POS(0, Double.POSITIVE_INFINITY),
        /** The negative entries; the others are 0. */
        NEG(Double.NEGATIVE_INFINITY, 0);

        private final double lo;
        private final double hi;

        Part(double lo, double hi) {
            this.lo = lo;
            this.hi = hi;
        }

        /** This part of a scalar weight: {@code v} clamped to the part's range. */
        double of(double v) {
            return Math.min(Math.max(v, lo), hi);
        }

        /** This part of {@code w}: {@code w} itself for {@link #ALL}, else a new array. */
        INDArray of(INDArray w) {
            if (this == ALL) {
                return w;
            }
            return this == POS ? Transforms.max(w, lo, true) : Transforms.min(w, hi, true);
        }
    }

    /** Names of the supported layer types (for error messages). */
    public static final List<String> SUPPORTED = List.of("DenseLayer", "OutputLayer", "ConvolutionLayer",
            "SubsamplingLayer(MAX|AVG)", "GlobalPoolingLayer(MAX|AVG)", "ActivationLayer", "DropoutLayer",
            "CnnToFeedForwardPreProcessor", "FeedForwardToCnnPreProcessor");

    /** One elementary step a_{k+1} = step(a_k). */
    public abstract static class Step {
        final int layer;
        String where;

        Step(int layer) {
            this.layer = layer;
        }

        /** Index of the DL4J layer this step belongs to (in a graph: the vertex's index in the unrolled graph). */
        public int layer() {
            return layer;
        }

        /** How messages name the layer or vertex of this step, e.g. "layer 2 ('dense')" or "vertex 'res1'". */
        public String where() {
            return where == null ? "layer " + layer : where;
        }

        /** Forward map. */
        public abstract INDArray forward(INDArray a);

        /** Chain rule: the gradient at the step's input given {@code g} at its output. */
        public abstract INDArray gradient(INDArray in, INDArray out, INDArray g);
    }

    /** A reshape (preprocessor). */
    public static final class Reshape extends Step {
        private final long[] shape;

        Reshape(int layer, long[] perExampleShape) {
            super(layer);
            this.shape = perExampleShape;
        }

        @Override
        public INDArray forward(INDArray a) {
            long[] s = new long[shape.length + 1];
            s[0] = a.size(0);
            System.arraycopy(shape, 0, s, 1, shape.length);
            return a.dup('c').reshape('c', s);
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            return g.dup('c').reshape('c', in.shape());
        }

        /** The per-example output shape. */
        public long[] shape() {
            return shape.clone();
        }
    }

    /** An element-wise activation function. */
    public static final class Activation extends Step {
        private final IActivation fn;

        Activation(int layer, IActivation fn) {
            super(layer);
            this.fn = fn;
        }

        /** The activation function. */
        public IActivation fn() {
            return fn;
        }

        /** True for a plain ReLU. */
        public boolean isRelu() {
            return isPlainRelu(fn);
        }

        /** True for the identity. */
        public boolean isIdentity() {
            return fn instanceof ActivationIdentity;
        }

        @Override
        public INDArray forward(INDArray a) {
            return fn.getActivation(a.dup(), false);
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            return fn.backprop(in.dup(), g.dup()).getFirst();
        }
    }

    /** An affine map z = W a + b (dense, convolution, average pooling). */
    public abstract static class Linear extends Step {
        Linear(int layer) {
            super(layer);
        }

        /** z = W_part a + b_biasPart (biasPart null: no bias). */
        public abstract INDArray apply(INDArray a, Part weights, Part bias);

        /** W_part^T s, shaped like the step's input {@code inShape}. */
        public abstract INDArray applyT(INDArray s, Part weights, long[] inShape);

        @Override
        public INDArray forward(INDArray a) {
            return apply(a, Part.ALL, Part.ALL);
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            return applyT(g, Part.ALL, in.shape());
        }
    }

    /** A dense (fully connected) map; W [nIn, nOut], b [1, nOut]. */
    public static final class Dense extends Linear {
        private final INDArray w;
        private final INDArray b;

        Dense(int layer, INDArray w, INDArray b) {
            super(layer);
            this.w = w;
            this.b = b;
        }

        @Override
        public INDArray apply(INDArray a, Part weights, Part bias) {
            INDArray z = a.castTo(w.dataType()).mmul(weights.of(w));
            if (bias != null && b != null) {
                z.addiRowVector(bias.of(b));
            }
            return z;
        }

        @Override
        public INDArray applyT(INDArray s, Part weights, long[] inShape) {
            return s.mmul(weights.of(w).transpose());
        }
    }

    /** Geometry of a 2-d window operation over NCHW arrays. */
    static final class Window {
        final int kh, kw, sh, sw, ph, pw;
        final ConvolutionMode mode;

        Window(int[] k, int[] s, int[] p, ConvolutionMode mode) {
            kh = k[0];
            kw = k[1];
            sh = s[0];
            sw = s[1];
            ph = p[0];
            pw = p[1];
            this.mode = mode == null ? ConvolutionMode.Truncate : mode;
        }

        /** Padding {top, bottom, left, right} for an input of size h x w. */
        int[] padding(long h, long w) {
            if (mode == ConvolutionMode.Same) {
                long oh = (h + sh - 1) / sh;
                long ow = (w + sw - 1) / sw;
                int th = (int) Math.max(0, (oh - 1) * sh + kh - h);
                int tw = (int) Math.max(0, (ow - 1) * sw + kw - w);
                return new int[]{th / 2, th - th / 2, tw / 2, tw - tw / 2};
            }
            return new int[]{ph, ph, pw, pw};
        }

        INDArray pad(INDArray a, int[] p) {
            if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
                return a;
            }
            return Nd4j.pad(a, new int[][]{{0, 0}, {0, 0}, {p[0], p[1]}, {p[2], p[3]}});
        }

        INDArray crop(INDArray a, int[] p, long h, long w) {
            if (p[0] == 0 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
                return a;
            }
            return a.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.interval(p[0], p[0] + h),
                    NDArrayIndex.interval(p[2], p[2] + w)).dup('c');
        }

        /** Patches [n, c, kh, kw, oh, ow] of an already padded input. */
        INDArray cols(INDArray padded) {
            long oh = (padded.size(2) - kh) / sh + 1;
            long ow = (padded.size(3) - kw) / sw + 1;
            INDArray out = Nd4j.create(padded.dataType(), padded.size(0), padded.size(1), kh, kw, oh, ow);
            return Convolution.im2col(padded.dup('c'), kh, kw, sh, sw, 0, 0, false, out);
        }

        /** Sums patch values back into a padded image of size h x w. */
        INDArray uncols(INDArray cols, long h, long w) {
            INDArray out = Nd4j.create(cols.dataType(), cols.size(0), cols.size(1), h, w);
            return Convolution.col2im(cols.dup('c'), out, sh, sw, 0, 0, (int) h, (int) w, 1, 1);
        }

        /** Window position (i, j) of patches [n, c, kh, kw, oh, ow]: a view [n, c, oh, ow]. */
        static INDArray at(INDArray cols, int i, int j) {
            return cols.get(NDArrayIndex.all(), NDArrayIndex.all(), NDArrayIndex.point(i), NDArrayIndex.point(j),
                    NDArrayIndex.all(), NDArrayIndex.all());
        }

        /**
         * Spreads values at the windows' outputs back over an input of size h x w: window position (i, j) of
         * every window gets {@code share.apply(i, j)} ([n, c, oh, ow]; null: nothing), overlapping windows add up.
         * Positions are visited row by row (i, then j), so {@code share} may keep state across them.
         *
         * @param outShape the windows' output shape [n, c, oh, ow]
         */
        INDArray spread(DataType dt, long[] outShape, long h, long w,
                        java.util.function.BiFunction<Integer, Integer, INDArray> share) {
            INDArray cols = Nd4j.zeros(dt, outShape[0], outShape[1], kh, kw, outShape[2], outShape[3]);
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    INDArray v = share.apply(i, j);
                    if (v != null) {
                        at(cols, i, j).assign(v);
                    }
                }
            }
            return uncols(cols, h, w);
        }
    }

    /** A 2-d convolution; W [oc, ic, kh, kw], b [1, oc]. */
    public static final class Conv extends Linear {
        private final INDArray w;
        private final INDArray b;
        private final Window win;

        Conv(int layer, INDArray w, INDArray b, Window win) {
            super(layer);
            this.w = w;
            this.b = b;
            this.win = win;
        }

        @Override
        public INDArray apply(INDArray a, Part weights, Part bias) {
            long n = a.size(0);
            long c = a.size(1);
            int[] p = win.padding(a.size(2), a.size(3));
            INDArray cols = win.cols(win.pad(a.castTo(w.dataType()), p));
            long oh = cols.size(4);
            long ow = cols.size(5);
            long oc = w.size(0);
            INDArray c2 = cols.permute(0, 4, 5, 1, 2, 3).dup('c').reshape('c', n * oh * ow, c * win.kh * win.kw);
            INDArray w2 = weights.of(w).dup('c').reshape('c', oc, c * win.kh * win.kw);
            INDArray z = c2.mmul(w2.transpose()).reshape('c', n, oh, ow, oc).permute(0, 3, 1, 2).dup('c');
            if (bias != null && b != null) {
                Broadcast.add(z, bias.of(b).reshape(oc), z, 1);
            }
            return z;
        }

        @Override
        public INDArray applyT(INDArray s, Part weights, long[] inShape) {
            long n = s.size(0);
            long oc = s.size(1);
            long oh = s.size(2);
            long ow = s.size(3);
            long c = inShape[1];
            int[] p = win.padding(inShape[2], inShape[3]);
            INDArray s2 = s.permute(0, 2, 3, 1).dup('c').reshape('c', n * oh * ow, oc);
            INDArray w2 = weights.of(w).dup('c').reshape('c', oc, c * win.kh * win.kw);
            INDArray cols = s2.mmul(w2).reshape('c', n, oh, ow, c, win.kh, win.kw).permute(0, 3, 4, 5, 1, 2);
            INDArray img = win.uncols(cols, inShape[2] + p[0] + p[1], inShape[3] + p[2] + p[3]);
            return win.crop(img, p, inShape[2], inShape[3]);
        }
    }

    /** Average pooling, a linear map with non-negative weights 1/(kh*kw). */
    public static final class AvgPool extends Linear {
        private final Window win;

        AvgPool(int layer, Window win) {
            super(layer);
            this.win = win;
        }

        @Override
        public INDArray apply(INDArray a, Part weights, Part bias) {
            INDArray cols = win.cols(a);
            INDArray z = cols.mean(2, 3);
            return weights == Part.NEG ? z.muli(0) : z;
        }

        @Override
        public INDArray applyT(INDArray s, Part weights, long[] inShape) {
            INDArray v = weights == Part.NEG ? null : s.div(win.kh * win.kw); // no negative weights: all zero
            return win.spread(s.dataType(), new long[]{inShape[0], inShape[1], s.size(2), s.size(3)}, inShape[2],
                    inShape[3], (i, j) -> v);
        }
    }

    /** Max pooling; backward passes route to the (first) winner of each window. */
    public static final class MaxPool extends Step {
        private final Window win;

        MaxPool(int layer, Window win) {
            super(layer);
            this.win = win;
        }

        @Override
        public INDArray forward(INDArray a) {
            return win.cols(a).max(2, 3);
        }

        /** Routes {@code r} (at the output) to each window's winner in {@code in}. */
        public INDArray route(INDArray in, INDArray r) {
            INDArray cols = win.cols(in);
            INDArray max = cols.max(2, 3);
            INDArray taken = Nd4j.zeros(in.dataType(), max.shape()); // 1 where a window's winner was routed to
            return win.spread(r.dataType(), max.shape(), in.size(2), in.size(3), (i, j) -> {
                INDArray isMax = Window.at(cols, i, j).eq(max).castTo(in.dataType()).muli(taken.rsub(1.0));
                taken.addi(isMax);
                return isMax.muli(r);
            });
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            return route(in, g);
        }
    }

    /** Global average pooling of NCHW input over height and width: [n, c, h, w] to [n, c], a linear map. */
    public static final class GlobalAvgPool extends Linear {
        GlobalAvgPool(int layer) {
            super(layer);
        }

        @Override
        public INDArray apply(INDArray a, Part weights, Part bias) {
            INDArray z = a.mean(2, 3);
            return weights == Part.NEG ? z.muli(0) : z;
        }

        @Override
        public INDArray applyT(INDArray s, Part weights, long[] inShape) {
            INDArray out = Nd4j.zeros(s.dataType(), inShape);
            if (weights != Part.NEG) {
                INDArray v = s.div(inShape[2] * inShape[3]);
                Broadcast.add(out, v, out, 0, 1);
            }
            return out;
        }
    }

    /** Global max pooling of NCHW input over height and width; backward passes route to the (first) winner. */
    public static final class GlobalMaxPool extends Step {
        GlobalMaxPool(int layer) {
            super(layer);
        }

        @Override
        public INDArray forward(INDArray a) {
            return a.max(2, 3);
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            long n = in.size(0);
            long c = in.size(1);
            long hw = in.size(2) * in.size(3);
            INDArray flat = in.dup('c').reshape('c', n * c, hw);
            INDArray idx = flat.argMax(1);
            INDArray res = Nd4j.zeros(g.dataType(), n * c, hw);
            INDArray gf = g.dup('c').reshape('c', n * c);
            for (long r = 0; r < n * c; r++) {
                res.putScalar(r, idx.getLong(r), gf.getDouble(r));
            }
            return res.reshape('c', in.shape());
        }
    }

    /** Element-wise z = scale * a + shift (DL4J's ScaleVertex and ShiftVertex): a linear map. */
    public static final class ScaleShift extends Linear {
        private final double scale;
        private final double shift;

        ScaleShift(int layer, double scale, double shift) {
            super(layer);
            this.scale = scale;
            this.shift = shift;
        }

        @Override
        public INDArray apply(INDArray a, Part weights, Part bias) {
            INDArray z = a.mul(weights.of(scale));
            if (bias != null) {
                z.addi(bias.of(shift));
            }
            return z;
        }

        @Override
        public INDArray applyT(INDArray s, Part weights, long[] inShape) {
            return s.mul(weights.of(scale));
        }
    }

    /** Columns [from, to] (inclusive) along dimension 1 (DL4J's SubsetVertex); backward fills the rest with 0. */
    public static final class Subset extends Step {
        private final int from;
        private final int to;

        Subset(int layer, int from, int to) {
            super(layer);
            this.from = from;
            this.to = to;
        }

        @Override
        public INDArray forward(INDArray a) {
            org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[a.rank()];
            Arrays.fill(idx, NDArrayIndex.all());
            idx[1] = NDArrayIndex.interval(from, to, true);
            return a.get(idx).dup('c');
        }

        @Override
        public INDArray gradient(INDArray in, INDArray out, INDArray g) {
            INDArray res = Nd4j.zeros(g.dataType(), in.shape());
            org.nd4j.linalg.indexing.INDArrayIndex[] idx = new org.nd4j.linalg.indexing.INDArrayIndex[in.rank()];
            Arrays.fill(idx, NDArrayIndex.all());
            idx[1] = NDArrayIndex.interval(from, to, true);
            res.get(idx).assign(g);
            return res;
        }
    }

    /** A backward rule: the signal at a step's input from the signal at its output. */
    @FunctionalInterface
    public interface Rule {
        /**
         * @param k      step index (the step maps acts[k] to acts[k+1])
         * @param step   the step
         * @param in     acts[k]
         * @param out    acts[k+1]
         * @param signal the signal at acts[k+1]
         * @return the signal at acts[k]
         */
        INDArray apply(int k, Step step, INDArray in, INDArray out, INDArray signal);
    }

    /** The chain rule. */
    public static final Rule GRADIENT = (k, s, in, out, g) -> s.gradient(in, out, g);

    private final List<Step> steps;
    private final int[] layerEnd;
    private final IActivation outputActivation;
    private final List<String> layerNames;
    private final DataType dataType;

    private Propagation(List<Step> steps, int[] layerEnd, IActivation outAct, List<String> names, DataType dt) {
        this.steps = steps;
        this.layerEnd = layerEnd;
        this.outputActivation = outAct;
        this.layerNames = names;
        this.dataType = dt;
    }

    static boolean isPlainRelu(IActivation a) {
        if (!(a instanceof ActivationReLU r)) {
            return false;
        }
        return (r.getMax() == null || r.getMax() == 0.0)
                && (r.getThreshold() == null || r.getThreshold() == 0.0)
                && (r.getNegativeSlope() == null || r.getNegativeSlope() == 0.0);
    }

    /**
     * Unrolls {@code net} (a private copy).
     *
     * @param method the method asking (for the error message)
     * @throws IllegalArgumentException naming the first unsupported layer or preprocessor and listing the supported ones
     */
    public static Propagation of(MultiLayerNetwork net, String method) {
        MultiLayerConfiguration conf = net.getLayerWiseConfigurations();
        int nl = net.getnLayers();
        List<Step> steps = new ArrayList<>();
        int[] ends = new int[nl];
        List<String> names = new ArrayList<>();
        IActivation outAct = null;
        for (int i = 0; i < nl; i++) {
            Layer l = conf.getConf(i).getLayer();
            String name = l.getLayerName() == null ? String.valueOf(i) : l.getLayerName();
            names.add(name);
            String where = "layer " + i + " ('" + name + "')";
            boolean last = i == nl - 1;
            IActivation a = layerSteps(i, where, l, net.getLayer(i), conf.getInputPreProcess(i), last, method, steps);
            if (last) {
                outAct = a;
            }
            ends[i] = steps.size();
        }
        return new Propagation(Collections.unmodifiableList(steps), ends, outAct, List.copyOf(names),
                net.params().dataType());
    }

    /**
     * Appends the elementary steps of one DL4J layer (its input preprocessor first) to {@code steps}; shared by
     * the MultiLayerNetwork unrolling and {@link GraphPropagation}'s layer vertices.
     *
     * @param index  the index recorded in each step ({@link Step#layer()})
     * @param where  how error messages name the layer (e.g. "layer 2 ('dense')" or "vertex 'res1'")
     * @param output true for the network's output layer: it must be an OutputLayer, whose activation is not
     *               added as a step but returned
     * @return the output layer's activation when {@code output}, else null
     * @throws IllegalArgumentException naming {@code where} for an unsupported layer or preprocessor
     */
    static IActivation layerSteps(int index, String where, Layer l, org.deeplearning4j.nn.api.Layer impl,
                                  InputPreProcessor pp, boolean output, String method, List<Step> steps) {
        int i = index;
        IActivation outAct = null;
        if (pp != null) {
            steps.add(preprocessorStep(i, where, pp, method));
        }
        Class<?> type = l.getClass();
        boolean last = output;
        if (type == DenseLayer.class || type == OutputLayer.class) {
            org.deeplearning4j.nn.conf.layers.BaseLayer bl = (org.deeplearning4j.nn.conf.layers.BaseLayer) l;
            steps.add(new Dense(i, impl.getParam("W"), impl.paramTable().get("b")));
            if (last) {
                outAct = bl.getActivationFn();
            } else {
                steps.add(new Activation(i, bl.getActivationFn()));
            }
        } else if (type == ConvolutionLayer.class) {
            ConvolutionLayer c = (ConvolutionLayer) l;
            if (c.getCnn2dDataFormat() != null && c.getCnn2dDataFormat() != CNN2DFormat.NCHW) {
                throw unsupported(method, where, "ConvolutionLayer with format " + c.getCnn2dDataFormat());
            }
            if (c.getDilation() != null && (c.getDilation()[0] != 1 || c.getDilation()[1] != 1)) {
                throw unsupported(method, where, "ConvolutionLayer with dilation " + Arrays.toString(c.getDilation()));
            }
            if (c.getConvolutionMode() == ConvolutionMode.Causal) {
                throw unsupported(method, where, "ConvolutionLayer in Causal mode");
            }
            Window w = new Window(c.getKernelSize(), c.getStride(), c.getPadding(), c.getConvolutionMode());
            steps.add(new Conv(i, impl.getParam("W"), impl.paramTable().get("b"), w));
            steps.add(new Activation(i, c.getActivationFn()));
        } else if (type == SubsamplingLayer.class) {
            SubsamplingLayer s = (SubsamplingLayer) l;
            if (s.getCnn2dDataFormat() != null && s.getCnn2dDataFormat() != CNN2DFormat.NCHW) {
                throw unsupported(method, where, "SubsamplingLayer with format " + s.getCnn2dDataFormat());
            }
            boolean padded = s.getPadding() != null && (s.getPadding()[0] != 0 || s.getPadding()[1] != 0);
            if (padded || s.getConvolutionMode() == ConvolutionMode.Same) {
                throw unsupported(method, where, "SubsamplingLayer with padding or Same mode");
            }
            if (s.getDilation() != null && (s.getDilation()[0] != 1 || s.getDilation()[1] != 1)) {
                throw unsupported(method, where, "SubsamplingLayer with dilation");
            }
            Window w = new Window(s.getKernelSize(), s.getStride(), new int[]{0, 0}, ConvolutionMode.Truncate);
            if (s.getPoolingType() == PoolingType.MAX) {
                steps.add(new MaxPool(i, w));
            } else if (s.getPoolingType() == PoolingType.AVG) {
                steps.add(new AvgPool(i, w));
            } else {
                throw unsupported(method, where, "SubsamplingLayer with pooling " + s.getPoolingType());
            }
        } else if (type == GlobalPoolingLayer.class) {
            GlobalPoolingLayer g = (GlobalPoolingLayer) l;
            boolean defaultDims = g.getPoolingDimensions() == null
                    || Arrays.equals(g.getPoolingDimensions(), new int[]{2, 3});
            if (!defaultDims || !g.isCollapseDimensions()) {
                throw unsupported(method, where, "GlobalPoolingLayer over dimensions "
                        + Arrays.toString(g.getPoolingDimensions()) + (g.isCollapseDimensions() ? "" : " without collapse")
                        + " (supported: NCHW input pooled over 2,3 and collapsed)");
            }
            if (g.getPoolingType() == PoolingType.AVG) {
                steps.add(new GlobalAvgPool(i));
            } else if (g.getPoolingType() == PoolingType.MAX) {
                steps.add(new GlobalMaxPool(i));
            } else {
                throw unsupported(method, where, "GlobalPoolingLayer with pooling " + g.getPoolingType());
            }
        } else if (type == ActivationLayer.class) {
            steps.add(new Activation(i, ((ActivationLayer) l).getActivationFn()));
        } else if (type == DropoutLayer.class) {
            // identity at inference
        } else {
            throw unsupported(method, where, type.getSimpleName());
        }
        if (last && !(type == OutputLayer.class)) {
            throw unsupported(method, where, type.getSimpleName() + " as the last layer (need OutputLayer)");
        }
        for (Step st : steps) {
            if (st.where == null) {
                st.where = where;
            }
        }
        return outAct;
    }

    /** The reshape step of a supported preprocessor. */
    static Step preprocessorStep(int index, String where, InputPreProcessor pp, String method) {
        if (pp instanceof CnnToFeedForwardPreProcessor c) {
            if (c.getFormat() != null && c.getFormat() != CNN2DFormat.NCHW) {
                throw unsupported(method, where, "CnnToFeedForwardPreProcessor with format " + c.getFormat());
            }
            return new Reshape(index, new long[]{c.getNumChannels() * c.getInputHeight() * c.getInputWidth()});
        }
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return new Reshape(index, new long[]{f.getNumChannels(), f.getInputHeight(), f.getInputWidth()});
        }
        throw unsupported(method, where, pp.getClass().getSimpleName());
    }

    static IllegalArgumentException unsupported(String method, String where, String what) {
        return new IllegalArgumentException(method + " does not support " + where + ": " + what
                + ". Supported: " + SUPPORTED);
    }

    /** The steps in forward order. */
    public List<Step> steps() {
        return steps;
    }

    /** Index into the activation list of DL4J layer {@code i}'s output (after its activation). */
    public int layerEnd(int i) {
        return layerEnd[i];
    }

    /** Number of DL4J layers. */
    public int numLayers() {
        return layerEnd.length;
    }

    /** Resolves a layer given by name or index; the error lists valid names. */
    public int layerIndex(String nameOrIndex) {
        int idx = layerNames.indexOf(nameOrIndex);
        if (idx >= 0) {
            return idx;
        }
        try {
            int i = Integer.parseInt(nameOrIndex.trim());
            if (i >= 0 && i < layerNames.size()) {
                return i;
            }
        } catch (NumberFormatException ignored) {
            // fall through
        }
        throw new IllegalArgumentException("Unknown layer '" + nameOrIndex + "'. Valid: " + layerNames
                + " or indices 0.." + (layerNames.size() - 1));
    }

    /** The output layer's activation (e.g. softmax), applied to the logits for probabilities. */
    public IActivation outputActivation() {
        return outputActivation;
    }

    /** The parameters' data type. */
    public DataType dataType() {
        return dataType;
    }

    /** All activations: element 0 is x, element k+1 is step k's output, the last is the logits. */
    public List<INDArray> forward(INDArray x) {
        List<INDArray> acts = new ArrayList<>(steps.size() + 1);
        run(0, x, acts);
        return acts;
    }

    /**
     * Activations 0..{@code last} only (the same values as {@link #forward}'s first {@code last + 1}): enough for
     * {@link #propagate propagating} from any activation index at or below {@code last}.
     *
     * @throws IllegalArgumentException when {@code last} is not an activation index
     */
    public List<INDArray> forwardTo(int last, INDArray x) {
        if (last < 0 || last > steps.size()) {
            throw new IllegalArgumentException("activation " + last + " not in 0.." + steps.size());
        }
        List<INDArray> acts = new ArrayList<>(last + 1);
        INDArray cur = x.castTo(dataType);
        acts.add(cur);
        for (int k = 0; k < last; k++) {
            cur = steps.get(k).forward(cur);
            acts.add(cur);
        }
        return acts;
    }

    /** Runs the steps from activation index {@code from} to the logits. */
    public INDArray forwardFrom(int from, INDArray a) {
        return run(from, a, null);
    }

    /** Runs the steps from activation index {@code from}, adding its input and each output to {@code acts} (may be null). */
    private INDArray run(int from, INDArray a, List<INDArray> acts) {
        INDArray cur = a.castTo(dataType);
        if (acts != null) {
            acts.add(cur);
        }
        for (int k = from; k < steps.size(); k++) {
            cur = steps.get(k).forward(cur);
            if (acts != null) {
                acts.add(cur);
            }
        }
        return cur;
    }

    /**
     * Propagates {@code signal} (at activation index {@code top}) down to activation index {@code bottom}.
     *
     * @param visitor called with (index, signal) after each step, may be null
     */
    public INDArray propagate(List<INDArray> acts, int top, INDArray signal, int bottom, Rule rule,
                              java.util.function.ObjIntConsumer<INDArray> visitor) {
        INDArray s = signal;
        if (visitor != null) {
            visitor.accept(s, top);
        }
        for (int k = top - 1; k >= bottom; k--) {
            s = rule.apply(k, steps.get(k), acts.get(k), acts.get(k + 1), s);
            if (visitor != null) {
                visitor.accept(s, k);
            }
        }
        return s;
    }

    /** Image geometry {c, h, w} of the input: from a leading FeedForwardToCnn reshape, or null. */
    public long[] inputImageShape(INDArray x) {
        if (x.rank() == 4) {
            return new long[]{x.size(1), x.size(2), x.size(3)};
        }
        if (!steps.isEmpty() && steps.get(0) instanceof Reshape r && r.shape.length == 3) {
            return r.shape();
        }
        return null;
    }
}
