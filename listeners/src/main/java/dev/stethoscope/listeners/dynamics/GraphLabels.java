package dev.stethoscope.listeners.dynamics;

import org.deeplearning4j.nn.graph.ComputationGraph;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.lang.reflect.Field;

/**
 * The labels of the batch a ComputationGraph is training on, read in its forward-pass callback.
 *
 * <p>{@code ComputationGraph.fit} sets the batch's labels on the graph before the forward pass
 * ({@code setLabels}), but DL4J 1.0.0-M2.1 has no getter for them (a MultiLayerNetwork has {@code getLabels()}),
 * and the output layer receives them only in the backward pass, after the callback. They are read from the graph's
 * private {@code labels} field. Training with the tracking iterator ({@code track}) or {@code setBatch} gives the
 * listener the DataSet itself, and then this is not used.
 */
public final class GraphLabels {
    private static final Field LABELS = field();

    private GraphLabels() {
    }

    private static Field field() {
        try {
            Field f = ComputationGraph.class.getDeclaredField("labels");
            f.setAccessible(true);
            return f;
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /**
     * The first (single-output graphs: the only) labels array the graph trains on now.
     *
     * @throws IllegalStateException if this DL4J version does not hold them where expected, or holds none
     */
    public static INDArray of(ComputationGraph graph) {
        if (LABELS == null) {
            throw new IllegalStateException("Cannot read the training labels of this ComputationGraph (DL4J version "
                    + "without the 'labels' field): train with listener.track(iterator)");
        }
        try {
            INDArray[] l = (INDArray[]) LABELS.get(graph);
            if (l == null || l.length == 0 || l[0] == null) {
                throw new IllegalStateException("The ComputationGraph holds no labels in its training forward pass");
            }
            return l[0];
        } catch (IllegalAccessException e) {
            throw new IllegalStateException("Cannot read the training labels of this ComputationGraph: " + e, e);
        }
    }
}
