package dev.stethoscope.probes.attribution;

import dev.stethoscope.probes.model.NetworkCopy;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.ops.transforms.Transforms;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Grad-CAM (Selvaraju et al. 2017) on a chosen convolutional layer L with feature maps A [n, K, h, w]:
 * alpha_k = mean over positions of d f_c / d A_k; cam = ReLU(sum_k alpha_k A_k) [n, h, w], bilinearly
 * upsampled to the input's height and width and repeated over its channels (maps of the input's shape).
 * The layer-resolution map is in extras "cam".
 */
public final class GradCam extends PropagationAttributor {
    private final int layer;
    private final int graphAt;

    /** On a copy, at the layer given by name or index. */
    public GradCam(NetworkCopy copy, String layer) {
        this(logitView(copy), DEFAULT_BATCH, layer);
    }

    /**
     * @param layer name or index of a layer whose output is [n, channels, h, w]
     */
    public GradCam(LogitNetwork net, int batchSize, String layer) {
        super(net, batchSize, "Grad-CAM");
        if (graph != null) {
            this.layer = -1;
            this.graphAt = graph.layerEnd(layer);
            boolean conv = false;
            for (GraphPropagation.Node nd : graph.nodes()) {
                if (nd.vertex().equals(layer) && (nd.step() instanceof Propagation.Conv
                        || nd.step() instanceof Propagation.MaxPool || nd.step() instanceof Propagation.AvgPool)) {
                    conv = true;
                }
            }
            if (!conv) {
                throw new IllegalArgumentException("Grad-CAM needs a convolution or pooling layer; vertex '" + layer
                        + "' is not one");
            }
            return;
        }
        this.graphAt = -1;
        this.layer = prop.layerIndex(layer);
        Propagation.Step last = prop.steps().get(prop.layerEnd(this.layer) - 1);
        boolean conv = false;
        for (Propagation.Step s : prop.steps()) {
            if (s.layer() == this.layer && (s instanceof Propagation.Conv || s instanceof Propagation.MaxPool
                    || s instanceof Propagation.AvgPool)) {
                conv = true;
            }
        }
        if (!conv || last == null) {
            throw new IllegalArgumentException("Grad-CAM needs a convolution or pooling layer; layer " + layer
                    + " is not one");
        }
    }

    @Override
    public String name() {
        return "gradcam";
    }

    @Override
    public Attribution attribute(INDArray x, int[] targets) {
        validate(x, targets);
        long[] img = graph != null ? graph.inputImageShape(x) : prop.inputImageShape(x);
        if (img == null) {
            throw new IllegalArgumentException("Grad-CAM needs image input ([n,c,h,w] or a FeedForwardToCnn preprocessor)");
        }
        int at = graph != null ? graphAt : prop.layerEnd(layer);
        double[] fx = new double[targets.length];
        List<INDArray> cams = new java.util.ArrayList<>();
        INDArray maps = batched(x, targets, (xp, tp, start) -> {
            List<INDArray> acts = graph != null ? graph.forward(xp) : prop.forward(xp);
            INDArray z = top(acts);
            INDArray g = Nd4j.zeros(z.dataType(), z.shape());
            for (int i = 0; i < tp.length; i++) {
                g.putScalar(i, tp[i], 1.0);
                fx[(int) start + i] = z.getDouble(i, tp[i]);
            }
            INDArray ga = graph != null
                    ? graph.propagate(acts, g, at, Propagation.GRADIENT, GraphPropagation.GRADIENT)[at]
                    : prop.propagate(acts, acts.size() - 1, g, at, Propagation.GRADIENT, null);
            INDArray a = acts.get(at);
            INDArray alpha = ga.mean(2, 3); // [n, K]
            long n = a.size(0);
            long k = a.size(1);
            long h = a.size(2);
            long w = a.size(3);
            INDArray weighted = a.dup('c').reshape('c', n, k, h * w).mul(alpha.reshape(n, k, 1).broadcast(n, k, h * w));
            INDArray cam = Transforms.relu(weighted.sum(1), false).reshape('c', n, h, w);
            cams.add(cam);
            INDArray up = upsample(cam, (int) img[1], (int) img[2]); // [n, H, W]
            INDArray rep = Nd4j.create(up.dataType(), n, img[0], img[1], img[2]);
            for (int c = 0; c < img[0]; c++) {
                rep.get(org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.point(c),
                        org.nd4j.linalg.indexing.NDArrayIndex.all(), org.nd4j.linalg.indexing.NDArrayIndex.all()).assign(up);
            }
            long[] shape = xp.shape().clone();
            return rep.reshape('c', shape);
        });
        Map<String, INDArray> extras = new LinkedHashMap<>();
        extras.put("cam", cams.size() == 1 ? cams.get(0) : Nd4j.concat(0, cams.toArray(new INDArray[0])));
        return new Attribution(name(), maps, targets.clone(), fx, null, extras);
    }

    /** Bilinear upsampling of [n, h, w] to [n, H, W] (pixel centres aligned). */
    static INDArray upsample(INDArray cam, int hh, int ww) {
        long n = cam.size(0);
        int h = (int) cam.size(1);
        int w = (int) cam.size(2);
        double[] src = cam.dup('c').castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE).data().asDouble();
        double[] dst = new double[(int) n * hh * ww];
        for (int e = 0; e < n; e++) {
            for (int y = 0; y < hh; y++) {
                double sy = Math.min(Math.max((y + 0.5) * h / hh - 0.5, 0), h - 1);
                int y0 = (int) Math.floor(sy);
                int y1 = Math.min(y0 + 1, h - 1);
                double fy = sy - y0;
                for (int x = 0; x < ww; x++) {
                    double sx = Math.min(Math.max((x + 0.5) * w / ww - 0.5, 0), w - 1);
                    int x0 = (int) Math.floor(sx);
                    int x1 = Math.min(x0 + 1, w - 1);
                    double fxx = sx - x0;
                    int b = e * h * w;
                    double v = (1 - fy) * ((1 - fxx) * src[b + y0 * w + x0] + fxx * src[b + y0 * w + x1])
                            + fy * ((1 - fxx) * src[b + y1 * w + x0] + fxx * src[b + y1 * w + x1]);
                    dst[e * hh * ww + y * ww + x] = v;
                }
            }
        }
        return Nd4j.createFromArray(dst).reshape('c', n, hh, ww).castTo(cam.dataType());
    }
}
