package dev.stethoscope.probes.model;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

import java.util.Objects;

/**
 * A private copy of a DL4J network for analyses: same configuration, its own
 * parameter buffer, parameters copied from the source at a chosen moment.
 *
 * <p>Analyses that need forward or backward passes (input gradients, probes on
 * activations, attributions) run on the copy, so the training network's
 * parameters, gradients, updater state and workspaces are never touched. The
 * source is only read ({@code params()}), which is safe from a listener callback
 * on the training thread. {@link #refresh()} re-copies the parameters into the
 * same copy, so repeated analyses do not allocate a new network each time.
 *
 * <p>Supports {@link MultiLayerNetwork} and {@link ComputationGraph}.
 */
public final class NetworkCopy {
    private final Model source;
    private final Model copy;

    private NetworkCopy(Model source, Model copy) {
        this.source = source;
        this.copy = copy;
    }

    /**
     * Makes a copy of {@code source} with its current parameters.
     *
     * @param source a {@link MultiLayerNetwork} or {@link ComputationGraph}, initialised
     * @return the copy
     * @throws IllegalArgumentException for any other model type
     */
    public static NetworkCopy of(Model source) {
        Objects.requireNonNull(source, "source");
        Model copy;
        if (source instanceof MultiLayerNetwork mln) {
            MultiLayerNetwork c = new MultiLayerNetwork(mln.getLayerWiseConfigurations().clone());
            c.init(mln.params().dup(), false);
            copy = c;
        } else if (source instanceof ComputationGraph cg) {
            ComputationGraph c = new ComputationGraph(cg.getConfiguration().clone());
            c.init(cg.params().dup(), false);
            copy = c;
        } else {
            throw new IllegalArgumentException("Unsupported model type " + source.getClass().getName()
                    + ": Stethoscope supports MultiLayerNetwork and ComputationGraph");
        }
        return new NetworkCopy(source, copy);
    }

    /** Copies the source's current parameters into the copy; returns this. */
    public NetworkCopy refresh() {
        copy.setParams(source.params());
        return this;
    }

    /** The copy; safe to run forward and backward passes on. */
    public Model model() {
        return copy;
    }

    /** The copy as a MultiLayerNetwork; fails with a clear message if the source was a ComputationGraph. */
    public MultiLayerNetwork multiLayer() {
        if (copy instanceof MultiLayerNetwork m) {
            return m;
        }
        throw new UnsupportedOperationException("This analysis needs a MultiLayerNetwork; got "
                + copy.getClass().getSimpleName());
    }

    /** The network this copy was made from (read only). */
    public Model source() {
        return source;
    }
}
