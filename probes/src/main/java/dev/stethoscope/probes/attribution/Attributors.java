package dev.stethoscope.probes.attribution;

import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Locale;

/**
 * Creates attributors by name (command line, listener configuration). Valid names: {@link #NAMES}.
 */
public final class Attributors {
    /** Every method name accepted by {@link #create}. */
    public static final List<String> NAMES = List.of("saliency", "grad-x-input", "smoothgrad", "ig", "lrp-eps",
            "lrp-a2b1", "lrp-a1b0", "deeplift", "occlusion", "gradcam", "guided-backprop", "deconvnet");

    /** Methods that explain every input of a graph with several inputs ({@link Attributor#attributeInputs}). */
    public static final List<String> MULTI_INPUT = List.of("saliency", "grad-x-input", "ig", "lrp-eps", "lrp-a2b1",
            "lrp-a1b0", "deeplift", "guided-backprop", "deconvnet");

    private Attributors() {
    }

    /**
     * Options shared by the factory; unused ones are ignored by methods that do not need them.
     *
     * @param batchSize      internal batch size
     * @param steps          IG steps
     * @param igRule         IG quadrature rule
     * @param epsilon        LRP epsilon
     * @param baseline       IG / DeepLIFT baseline (null: zeros)
     * @param gradcamLayer   Grad-CAM layer (null: the last convolution layer)
     * @param patch          occlusion patch side
     * @param stride         occlusion stride
     * @param fill           occlusion fill value
     * @param noiseLevel     SmoothGrad noise level
     * @param samples        SmoothGrad samples
     * @param seed           SmoothGrad seed
     */
    public record Options(int batchSize, int steps, IntegratedGradients.Rule igRule, double epsilon, INDArray baseline,
                          String gradcamLayer, int patch, int stride, double fill, double noiseLevel, int samples,
                          long seed) implements java.io.Serializable {
        /** Defaults: batch 128, IG 50 steps right Riemann, eps 1e-6, zero baseline, last conv layer, 3x3 patch
         * stride 1 fill 0, SmoothGrad 0.15 x 25 seed 42. */
        public static Options defaults() {
            return new Options(AttributorBase.DEFAULT_BATCH, IntegratedGradients.DEFAULT_STEPS,
                    IntegratedGradients.Rule.RIEMANN_RIGHT, 1e-6, null, null, 3, 1, 0.0, 0.15, 25, 42L);
        }

        /** A copy with another IG step count. */
        public Options withSteps(int s) {
            return new Options(batchSize, s, igRule, epsilon, baseline, gradcamLayer, patch, stride, fill, noiseLevel,
                    samples, seed);
        }

        /** A copy with another internal batch size. */
        public Options withBatchSize(int b) {
            return new Options(b, steps, igRule, epsilon, baseline, gradcamLayer, patch, stride, fill, noiseLevel,
                    samples, seed);
        }
    }

    /**
     * Creates the named method on a logit view.
     *
     * @throws IllegalArgumentException for an unknown name (listing {@link #NAMES}) or a network the method
     *                                  does not support
     */
    public static Attributor create(String name, LogitNetwork net, Options o) {
        String n = name.trim().toLowerCase(Locale.ROOT);
        return switch (n) {
            case "saliency" -> new Saliency(net, o.batchSize());
            case "grad-x-input" -> new InputXGradient(net, o.batchSize());
            case "smoothgrad" -> new SmoothGrad(net, o.batchSize(), o.noiseLevel(), o.samples(), o.seed());
            case "ig" -> new IntegratedGradients(net, o.batchSize(), o.steps(), o.igRule(), o.baseline());
            case "lrp-eps" -> Lrp.epsilon(net, o.batchSize(), o.epsilon());
            case "lrp-a2b1" -> Lrp.alphaBeta(net, o.batchSize(), 2, 1);
            case "lrp-a1b0" -> Lrp.alphaBeta(net, o.batchSize(), 1, 0);
            case "deeplift" -> new DeepLift(net, o.batchSize(), o.baseline());
            case "occlusion" -> new Occlusion(net, o.batchSize(), o.patch(), o.patch(), o.stride(), o.stride(), o.fill(), null);
            case "gradcam" -> new GradCam(net, o.batchSize(),
                    o.gradcamLayer() != null ? o.gradcamLayer() : lastConvLayer(net.copy().model()));
            case "guided-backprop" -> new GuidedBackprop(net, o.batchSize(), GuidedBackprop.Mode.GUIDED);
            case "deconvnet" -> new GuidedBackprop(net, o.batchSize(), GuidedBackprop.Mode.DECONVNET);
            default -> throw new IllegalArgumentException("Unknown attribution method '" + name + "'. Valid: " + NAMES);
        };
    }

    /**
     * The last ConvolutionLayer of a MultiLayerNetwork (its index as a string) or of a ComputationGraph (its vertex
     * name, in topological order); fails if there is none.
     */
    public static String lastConvLayer(org.deeplearning4j.nn.api.Model model) {
        if (model instanceof org.deeplearning4j.nn.graph.ComputationGraph cg) {
            String found = null;
            for (int idx : cg.topologicalSortOrder()) {
                org.deeplearning4j.nn.graph.vertex.GraphVertex v = cg.getVertices()[idx];
                if (v.hasLayer() && v.getLayer().conf().getLayer() instanceof ConvolutionLayer) {
                    found = v.getVertexName();
                }
            }
            if (found == null) {
                throw new IllegalArgumentException("Grad-CAM needs a convolution layer; this network has none");
            }
            return found;
        }
        return lastConvLayer((MultiLayerNetwork) model);
    }

    /** Index (as a string) of the last ConvolutionLayer; fails if there is none. */
    public static String lastConvLayer(MultiLayerNetwork net) {
        for (int i = net.getnLayers() - 1; i >= 0; i--) {
            if (net.getLayer(i).conf().getLayer() instanceof ConvolutionLayer) {
                return String.valueOf(i);
            }
        }
        throw new IllegalArgumentException("Grad-CAM needs a convolution layer; this network has none");
    }
}
