package dev.stethoscope.probes.model;

import org.deeplearning4j.nn.api.layers.IOutputLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.graph.vertex.GraphVertex;
import org.deeplearning4j.nn.graph.vertex.VertexIndices;
import org.deeplearning4j.nn.workspace.LayerWorkspaceMgr;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.List;

/**
 * Input gradients of a single-output {@link ComputationGraph}, by DL4J's own vertex backward passes.
 *
 * <p>DL4J 1.0.0-M2.1 has no {@code calculateGradients} for graphs, and its {@code computeGradientAndScore} discards
 * the epsilons it leaves at the input vertices. This runs a training-mode forward pass that keeps every vertex's
 * inputs, sets the labels on the output layer, then calls {@code doBackward} on each vertex in reverse topological
 * order, summing the epsilons a vertex receives from its consumers (as DL4J does), and returns the sums arriving at
 * the input vertices. Run it only on a private copy (it writes the copy's gradient buffer and vertex state), with
 * training workspaces off and without dropout.
 */
public final class GraphBackward {
    private GraphBackward() {
    }

    /**
     * d L / d input_i for each network input, L the output layer's loss (summed over the rows, not averaged).
     *
     * @param graph  a private copy (single output whose layer is an output layer)
     * @param inputs one array per network input
     * @param labels the labels of the output layer's loss
     * @return one gradient per input, of that input's shape, detached
     */
    public static INDArray[] inputGradients(ComputationGraph graph, INDArray[] inputs, INDArray labels) {
        return backward(graph, inputs, labels).gradients();
    }

    /**
     * The input gradients of {@link #inputGradients} and the graph's output from the same (training-mode) forward
     * pass.
     *
     * @param gradients one gradient per input, of that input's shape, detached
     * @param output    the output layer's activations in that pass, detached: equal to the inference output when
     *                  no layer behaves differently in training (no dropout, weight noise or batch normalisation)
     */
    public record Pass(INDArray[] gradients, INDArray output) {
    }

    /**
     * Input gradients and the output of the same forward pass ({@link Pass}); as {@link #inputGradients}.
     */
    public static Pass backward(ComputationGraph graph, INDArray[] inputs, INDArray labels) {
        List<String> outs = graph.getConfiguration().getNetworkOutputs();
        if (outs.size() != 1) {
            throw new IllegalArgumentException("Input gradients support single-output graphs; this graph has outputs " + outs);
        }
        if (graph.getGradientsViewArray() == null) {
            graph.initGradientsView();
        }
        java.util.Map<String, INDArray> acts = graph.feedForward(inputs, true, false);
        INDArray output = acts.get(outs.get(0));
        output = output == null ? null : output.detach();
        LayerWorkspaceMgr mgr = LayerWorkspaceMgr.noWorkspaces();
        GraphVertex[] vs = graph.getVertices();
        INDArray[] eps = new INDArray[vs.length];
        GraphVertex outV = graph.getVertex(outs.get(0));
        if (!(outV.hasLayer() && outV.getLayer() instanceof IOutputLayer ol)) {
            throw new IllegalArgumentException("Input gradients need an output layer as the graph's output; vertex '"
                    + outs.get(0) + "' is not one");
        }
        ol.setLabels(labels);
        int outIdx = outV.getVertexIndex();
        int[] order = graph.topologicalSortOrder();
        for (int t = order.length - 1; t >= 0; t--) {
            GraphVertex v = vs[order[t]];
            int vi = v.getVertexIndex();
            if (v.isInputVertex() || (vi != outIdx && eps[vi] == null)) {
                continue;
            }
            if (vi != outIdx) {
                v.setEpsilon(eps[vi]);
            }
            INDArray[] back = v.doBackward(false, mgr).getSecond();
            VertexIndices[] src = v.getInputVertices();
            for (int j = 0; j < src.length; j++) {
                if (back[j] == null) {
                    continue;
                }
                int si = src[j].getVertexIndex();
                eps[si] = eps[si] == null ? back[j].dup() : eps[si].addi(back[j]);
            }
        }
        List<String> names = graph.getConfiguration().getNetworkInputs();
        INDArray[] g = new INDArray[inputs.length];
        for (int i = 0; i < inputs.length; i++) {
            INDArray e = eps[graph.getVertex(names.get(i)).getVertexIndex()];
            g[i] = e == null ? Nd4j.zeros(inputs[i].dataType(), inputs[i].shape()) : e.reshape(inputs[i].shape()).dup();
        }
        graph.clear();
        return new Pass(g, output);
    }
}
