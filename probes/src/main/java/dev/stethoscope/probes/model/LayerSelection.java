package dev.stethoscope.probes.model;

import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.graph.GraphVertex;
import org.deeplearning4j.nn.conf.graph.LayerVertex;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.ArrayList;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * Names of a network's layers and validation of user-chosen layers.
 *
 * <p>For a {@link MultiLayerNetwork} a layer's name is the name set in its
 * configuration, or its index as a string ("0", "1", ...) when none was set; a
 * layer can also be chosen by index. For a {@link ComputationGraph} names are
 * the vertex names of its layer vertices, in topological order.
 */
public final class LayerSelection {
    private LayerSelection() {
    }

    /** All layer names of {@code model} in forward order, the output layer included. */
    public static List<String> layerNames(Model model) {
        if (model instanceof MultiLayerNetwork mln) {
            List<String> names = new ArrayList<>();
            Layer[] layers = mln.getLayers();
            for (int i = 0; i < layers.length; i++) {
                String n = layers[i].conf().getLayer().getLayerName();
                names.add(n == null || n.isEmpty() ? String.valueOf(i) : n);
            }
            return Collections.unmodifiableList(names);
        }
        if (model instanceof ComputationGraph cg) {
            List<String> names = new ArrayList<>();
            Map<String, GraphVertex> vertices = cg.getConfiguration().getVertices();
            for (int idx : cg.topologicalSortOrder()) {
                String name = cg.getVertices()[idx].getVertexName();
                if (vertices.get(name) instanceof LayerVertex) {
                    names.add(name);
                }
            }
            return Collections.unmodifiableList(names);
        }
        throw new IllegalArgumentException("Unsupported model type " + model.getClass().getName()
                + ": Stethoscope supports MultiLayerNetwork and ComputationGraph");
    }

    /** Layer names of {@code model} without the output layer(s): the hidden layers. */
    public static List<String> hiddenLayerNames(Model model) {
        List<String> all = layerNames(model);
        if (model instanceof MultiLayerNetwork) {
            return all.subList(0, Math.max(0, all.size() - 1));
        }
        ComputationGraph cg = (ComputationGraph) model;
        List<String> outs = cg.getConfiguration().getNetworkOutputs();
        List<String> hidden = new ArrayList<>();
        for (String n : all) {
            if (!outs.contains(n)) {
                hidden.add(n);
            }
        }
        return Collections.unmodifiableList(hidden);
    }

    /**
     * Validates a user's choice of layers.
     *
     * @param model     the network
     * @param requested layer names, or MultiLayerNetwork indices written as numbers; empty means all layers
     * @return the chosen layer names in forward order, without duplicates
     * @throws IllegalArgumentException naming the unknown entry and listing the valid names
     */
    public static List<String> resolve(Model model, Collection<String> requested) {
        List<String> valid = layerNames(model);
        if (requested == null || requested.isEmpty()) {
            return valid;
        }
        LinkedHashSet<String> chosen = new LinkedHashSet<>();
        for (String r : requested) {
            if (r != null && valid.contains(r)) {
                chosen.add(r);
                continue;
            }
            if (r != null && model instanceof MultiLayerNetwork && r.matches("\\d+")) {
                int idx = Integer.parseInt(r);
                if (idx < valid.size()) {
                    chosen.add(valid.get(idx));
                    continue;
                }
            }
            throw new IllegalArgumentException("Unknown layer '" + r + "'. Valid layers: " + valid
                    + (model instanceof MultiLayerNetwork ? " (or their indices 0.." + (valid.size() - 1) + ")" : ""));
        }
        List<String> ordered = new ArrayList<>();
        for (String n : valid) {
            if (chosen.contains(n)) {
                ordered.add(n);
            }
        }
        return Collections.unmodifiableList(ordered);
    }

    /** Index of a layer in a MultiLayerNetwork, by name as returned from {@link #layerNames}. */
    public static int indexOf(MultiLayerNetwork net, String name) {
        int i = layerNames(net).indexOf(name);
        if (i < 0) {
            throw new IllegalArgumentException("Unknown layer '" + name + "'. Valid layers: " + layerNames(net));
        }
        return i;
    }
}
