package dev.stethoscope.probes;

import org.deeplearning4j.nn.conf.ComputationGraphConfiguration;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;

/** ComputationGraph fixtures shared by the probes' graph tests (attribution, memorisation). */
public final class TestGraphs {
    private TestGraphs() {
    }

    /**
     * The ComputationGraph equivalent of {@code mln}: the same layers (cloned) and preprocessors in a chain
     * "in" -&gt; "L0" -&gt; ... -&gt; "L{n-1}", with the same parameters (a chain's parameters are in the same order).
     */
    public static ComputationGraph asGraph(MultiLayerNetwork mln) {
        MultiLayerConfiguration mc = mln.getLayerWiseConfigurations();
        ComputationGraphConfiguration.GraphBuilder b = new NeuralNetConfiguration.Builder()
                .dataType(mln.params().dataType()).seed(1).graphBuilder().addInputs("in");
        String prev = "in";
        for (int i = 0; i < mc.getConfs().size(); i++) {
            b.addLayer("L" + i, mc.getConf(i).getLayer().clone(), mc.getInputPreProcess(i), prev);
            prev = "L" + i;
        }
        ComputationGraph g = new ComputationGraph(b.setOutputs(prev).build());
        g.init();
        g.setParams(mln.params().dup());
        return g;
    }
}
