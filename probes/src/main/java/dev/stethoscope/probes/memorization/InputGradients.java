package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.WorkspaceMode;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Per-example input gradients dL_n/dx_n of a {@link MultiLayerNetwork}, computed
 * on a {@link NetworkCopy}.
 *
 * <p>DL4J's {@code calculateGradients(features, labels, null, null)} returns, as
 * the second element of its pair, the gradient of the minibatch loss with
 * respect to the input. DL4J reports the minibatch <em>score</em> as the mean of
 * the per-example losses, but the gradients it back-propagates are those of the
 * <em>sum</em> (the division by the minibatch size happens later, in the
 * updater); row n of the input gradient is therefore the gradient of example n's
 * own loss, which only depends on x_n. {@code InputGradientsTest} checks that
 * against central finite differences of each example's loss.
 *
 * <p>{@code calculateGradients} runs the forward pass in training mode. So that
 * the gradient is a deterministic function of the input, {@link #analysisCopy}
 * removes dropout and weight noise from the copy's layer configurations (the
 * copy has its own configuration, the training network is untouched).
 * BatchNormalization layers still use the statistics of the batch being
 * analysed in training mode; that is a known deviation for networks that have them.
 *
 * <p>The copy also runs its training-mode passes without workspaces, so that after
 * {@code calculateGradients} the output layer still holds the input of that pass and
 * {@link #gradientsAndPredictions} can read the network's predictions from it for the
 * price of the output layer alone, instead of a second forward pass.
 */
public final class InputGradients {
    private InputGradients() {
    }

    /**
     * Makes the private copy used for input gradients: a {@link NetworkCopy} of a {@link MultiLayerNetwork} or a
     * {@link ComputationGraph} ({@link #graphAnalysisCopy}) with dropout and weight noise removed from the copy's
     * configuration and training workspaces off.
     *
     * @throws IllegalArgumentException for other model types
     */
    public static NetworkCopy analysisCopy(Model model) {
        if (model instanceof ComputationGraph cg) {
            return graphAnalysisCopy(cg);
        }
        requireMultiLayer(model);
        NetworkCopy copy = NetworkCopy.of(model);
        stripStochasticRegularisation(copy.multiLayer());
        copy.multiLayer().getLayerWiseConfigurations().setTrainingWorkspaceMode(WorkspaceMode.NONE);
        return copy;
    }

    /**
     * The private copy for input gradients of a {@link ComputationGraph} ({@link #perExample(ComputationGraph,
     * INDArray[], INDArray)}): dropout and weight noise removed, training workspaces off.
     */
    public static NetworkCopy graphAnalysisCopy(ComputationGraph graph) {
        NetworkCopy copy = NetworkCopy.of(graph);
        ComputationGraph c = (ComputationGraph) copy.model();
        for (org.deeplearning4j.nn.api.Layer l : c.getLayers()) {
            org.deeplearning4j.nn.conf.layers.Layer conf = l.conf().getLayer();
            conf.setIDropout(null);
            if (conf instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl) {
                bl.setWeightNoise(null);
            }
        }
        c.getConfiguration().setTrainingWorkspaceMode(WorkspaceMode.NONE);
        return copy;
    }

    /**
     * Row n of element i = dL(x_n, labels_n)/d(input i)_n for a single-output ComputationGraph with one or more
     * inputs (the graph's configured output loss), by DL4J's vertex backward passes
     * ({@link dev.stethoscope.probes.model.GraphBackward}).
     *
     * @param net      the analysis copy ({@link #graphAnalysisCopy}), never the training network
     * @param features one array per network input
     * @param labels   labels for the loss, e.g. one-hot rows
     */
    public static INDArray[] perExample(ComputationGraph net, INDArray[] features, INDArray labels) {
        for (INDArray f : features) {
            if (f.size(0) != labels.size(0)) {
                throw new IllegalArgumentException(f.size(0) + " feature rows but " + labels.size(0) + " label rows");
            }
        }
        return dev.stethoscope.probes.model.GraphBackward.inputGradients(net, features, labels);
    }

    /** Fails with a clear message unless {@code model} is a MultiLayerNetwork. */
    public static MultiLayerNetwork requireMultiLayer(Model model) {
        if (model instanceof MultiLayerNetwork mln) {
            return mln;
        }
        if (model instanceof ComputationGraph) {
            throw new UnsupportedOperationException("This analysis is implemented for MultiLayerNetwork; this model "
                    + "is a ComputationGraph (its overloads for ComputationGraph take the graph itself)");
        }
        throw new IllegalArgumentException("Unsupported model type "
                + (model == null ? "null" : model.getClass().getName())
                + ": input gradients are implemented for MultiLayerNetwork and ComputationGraph");
    }

    /**
     * Why the per-example analyses on one input array (critical samples, loss sensitivity of the memorisation
     * monitor) cannot run on {@code graph}, or null if they can: they need a single input and a single output whose
     * vertex is an output layer with a feed-forward number of outputs (the classes).
     */
    public static String singleInputOutputReason(ComputationGraph graph) {
        var conf = graph.getConfiguration();
        if (conf.getNetworkInputs().size() != 1) {
            return "the graph has inputs " + conf.getNetworkInputs() + " (supported: one input)";
        }
        return singleOutputReason(graph);
    }

    /**
     * Why the per-example analyses of a graph with one or more inputs (loss sensitivity over all inputs, critical
     * samples perturbing all inputs jointly) cannot run on {@code graph}, or null if they can: they need a single
     * output whose vertex is an output layer with a feed-forward number of outputs (the classes).
     */
    public static String singleOutputReason(ComputationGraph graph) {
        var conf = graph.getConfiguration();
        if (conf.getNetworkOutputs().size() != 1) {
            return "the graph has outputs " + conf.getNetworkOutputs() + " (supported: one output)";
        }
        String out = conf.getNetworkOutputs().get(0);
        var v = graph.getVertex(out);
        if (!v.hasLayer() || !(v.getLayer() instanceof org.deeplearning4j.nn.api.layers.IOutputLayer)
                || !(v.getLayer().conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer)) {
            return "the graph's output vertex '" + out + "' is not a feed-forward output layer";
        }
        return null;
    }

    /** Fails with {@link #singleOutputReason} unless it is null; returns {@code graph}. */
    public static ComputationGraph requireSingleOutput(ComputationGraph graph, String what) {
        String why = singleOutputReason(graph);
        if (why != null) {
            throw new UnsupportedOperationException(what + " on a ComputationGraph needs one output layer: " + why);
        }
        return graph;
    }

    /** Fails with {@link #singleInputOutputReason} unless it is null; returns {@code graph}. */
    public static ComputationGraph requireSingleInputOutput(ComputationGraph graph, String what) {
        String why = singleInputOutputReason(graph);
        if (why != null) {
            throw new UnsupportedOperationException(what + " on a ComputationGraph needs one input and one output "
                    + "layer: " + why);
        }
        return graph;
    }

    /** Number of output classes of a single-output {@code graph} (size of its output layer), any number of inputs. */
    public static int numClasses(ComputationGraph graph) {
        requireSingleOutput(graph, "Counting classes");
        var conf = graph.getOutputLayer(0).conf().getLayer();
        return (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) conf).getNOut();
    }

    /**
     * As {@link #gradientsAndPredictions(MultiLayerNetwork, INDArray, INDArray)} for a single-input, single-output
     * graph copy ({@link #graphAnalysisCopy}): the predictions come from the same forward pass as the gradients
     * unless a layer behaves differently in training (batch normalisation, dropout, weight noise), then from an
     * inference pass.
     */
    public static GradientsAndPredictions gradientsAndPredictions(ComputationGraph net, INDArray features,
                                                                  INDArray labels) {
        if (features.size(0) != labels.size(0)) {
            throw new IllegalArgumentException(features.size(0) + " feature rows but " + labels.size(0) + " label rows");
        }
        dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown();
        var pass = dev.stethoscope.probes.model.GraphBackward.backward(net, new INDArray[]{features}, labels);
        INDArray out = fusable(net) ? pass.output() : null;
        if (out == null) {
            out = net.outputSingle(false, features);
        }
        return new GradientsAndPredictions(pass.gradients()[0], argmax(out));
    }

    /**
     * For a single-output graph copy with one or more inputs ({@link #graphAnalysisCopy}): the input gradients of
     * every input, each flattened per example and concatenated in the order of the graph's inputs ([n, sum of the
     * inputs' sizes], the layout of {@link #joint}), and the predictions from the same forward pass (as
     * {@link #gradientsAndPredictions(ComputationGraph, INDArray, INDArray)}).
     */
    public static GradientsAndPredictions jointGradientsAndPredictions(ComputationGraph net, INDArray[] features,
                                                                       INDArray labels) {
        for (INDArray f : features) {
            if (f.size(0) != labels.size(0)) {
                throw new IllegalArgumentException(f.size(0) + " feature rows but " + labels.size(0) + " label rows");
            }
        }
        dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown();
        var pass = dev.stethoscope.probes.model.GraphBackward.backward(net, features, labels);
        INDArray out = fusable(net) ? pass.output() : null;
        if (out == null) {
            out = net.output(false, features)[0];
        }
        return new GradientsAndPredictions(joint(pass.gradients()), argmax(out));
    }

    /**
     * Several inputs as one array: each input flattened per example (row-major) and the inputs concatenated in
     * order: [n, sum of the inputs' sizes]. {@link #split} undoes it.
     */
    public static INDArray joint(INDArray[] xs) {
        return dev.stethoscope.probes.model.GraphInputs.joint(xs);
    }

    /**
     * The inputs of a joint array ({@link #joint}): {@code shapes[i]} is input i's shape (its first dimension is
     * replaced by the joint array's rows).
     */
    public static INDArray[] split(INDArray joint, long[][] shapes) {
        return dev.stethoscope.probes.model.GraphInputs.split(joint, shapes);
    }

    private static boolean fusable(ComputationGraph net) {
        return fusable(net.getConfiguration().getTrainingWorkspaceMode(), net.getLayers());
    }

    /**
     * Removes dropout and weight noise from the layer configurations of
     * {@code copy} (which must be a private copy: its configuration is changed).
     */
    public static void stripStochasticRegularisation(MultiLayerNetwork copy) {
        for (org.deeplearning4j.nn.api.Layer l : copy.getLayers()) {
            org.deeplearning4j.nn.conf.layers.Layer conf = l.conf().getLayer();
            conf.setIDropout(null);
            if (conf instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl) {
                bl.setWeightNoise(null);
            }
        }
    }

    /**
     * Row n = dL(x_n, labels_n)/dx_n, the gradient of example n's own loss
     * (the network's configured output loss), same shape as {@code features}.
     *
     * @param net      the analysis copy (never the training network)
     * @param features inputs, any shape the network accepts
     * @param labels   labels for the loss, e.g. one-hot rows
     */
    public static INDArray perExample(MultiLayerNetwork net, INDArray features, INDArray labels) {
        if (features.size(0) != labels.size(0)) {
            throw new IllegalArgumentException(features.size(0) + " feature rows but " + labels.size(0) + " label rows");
        }
        dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown(); // the previous batches' arrays are garbage now
        INDArray g = net.calculateGradients(features, labels, null, null).getSecond();
        net.clear();
        return g.detach();
    }

    /** Input gradients (as {@link #perExample}) and the predicted class of each row at the same inputs. */
    public record GradientsAndPredictions(INDArray gradients, int[] predictions) {
    }

    /**
     * {@link #perExample} and the argmax of the network's inference output for the same
     * rows. When the forward pass of {@code calculateGradients} gives the same outputs as
     * inference (no workspaces in training mode, as in {@link #analysisCopy}, and no layer
     * that behaves differently in training, such as BatchNormalization), the predictions
     * come from the output layer applied to the input it kept from that pass: one forward
     * pass instead of two. Otherwise a separate inference pass computes them.
     */
    public static GradientsAndPredictions gradientsAndPredictions(MultiLayerNetwork net, INDArray features,
                                                                  INDArray labels) {
        if (features.size(0) != labels.size(0)) {
            throw new IllegalArgumentException(features.size(0) + " feature rows but " + labels.size(0) + " label rows");
        }
        dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown(); // the previous batches' arrays are garbage now
        INDArray g = net.calculateGradients(features, labels, null, null).getSecond();
        INDArray out = null;
        if (fusable(net)) {
            out = net.getOutputLayer().activate(false, LayerWorkspaceMgr.noWorkspaces());
        }
        net.clear();
        if (out == null) {
            out = net.output(features, false);
        }
        return new GradientsAndPredictions(g.detach(), argmax(out));
    }

    /** Whether the training-mode forward pass leaves usable, inference-equal inputs in the output layer. */
    private static boolean fusable(MultiLayerNetwork net) {
        return fusable(net.getLayerWiseConfigurations().getTrainingWorkspaceMode(), net.getLayers());
    }

    /** No training workspaces, and no layer whose training pass differs from inference (batch norm, dropout, weight noise). */
    private static boolean fusable(WorkspaceMode trainingWorkspaces, org.deeplearning4j.nn.api.Layer[] layers) {
        if (trainingWorkspaces != WorkspaceMode.NONE) {
            return false;
        }
        for (org.deeplearning4j.nn.api.Layer l : layers) {
            org.deeplearning4j.nn.conf.layers.Layer c = l.conf().getLayer();
            if (c instanceof BatchNormalization || c.getIDropout() != null
                    || c instanceof org.deeplearning4j.nn.conf.layers.BaseLayer bl && bl.getWeightNoise() != null) {
                return false;
            }
        }
        return true;
    }

    /** One-hot rows of {@code classes} over {@code numClasses} classes, in the data type of {@code like}. */
    public static INDArray oneHot(int[] classes, int numClasses, INDArray like) {
        INDArray y = Nd4j.zeros(like.dataType(), classes.length, numClasses);
        for (int i = 0; i < classes.length; i++) {
            if (classes[i] < 0 || classes[i] >= numClasses) {
                throw new IllegalArgumentException("Class " + classes[i] + " out of range 0.." + (numClasses - 1));
            }
            y.putScalar(i, classes[i], 1.0);
        }
        return y;
    }

    /** Argmax over the last dimension of 2-d outputs. */
    public static int[] argmax(INDArray out) {
        INDArray a = out.argMax(1);
        int[] r = new int[(int) a.length()];
        for (int i = 0; i < r.length; i++) {
            r[i] = a.getInt(i);
        }
        return r;
    }

    /** Number of output classes of {@code net} (size of the output layer). */
    public static int numClasses(MultiLayerNetwork net) {
        org.deeplearning4j.nn.conf.layers.Layer conf = net.getOutputLayer().conf().getLayer();
        if (conf instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer ff) {
            return (int) ff.getNOut();
        }
        throw new IllegalArgumentException("Output layer " + conf.getClass().getSimpleName()
                + " is not a feed-forward layer; cannot tell the number of classes");
    }
}
