package dev.stethoscope.spark;

import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.dynamics.LogitCapture;
import dev.stethoscope.listeners.dynamics.TrainingDynamicsListener;
import dev.stethoscope.probes.dynamics.TrainingDynamics;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.api.Layer;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.layers.BaseOutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.factory.Nd4j;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The worker half of the training-dynamics (suspects) monitor on Spark: at every minibatch a
 * worker trains, it takes the logits of the training pass exactly as
 * {@link TrainingDynamicsListener} does ({@link LogitCapture}, {@code TRAIN_PASS}) and publishes
 * them with the rows' example ids and labels as one {@link ExampleLogits} record. DL4J brings the
 * records of a round back to the driver, where {@link StethoscopeSpark} merges them by example id
 * into the driver's {@code TrainingDynamicsListener}.
 *
 * <p>The example ids come from the batch's metadata ({@code RecordMetaDataIndex}, see
 * {@link ExampleIndex}), which {@link BatchHook} makes visible on the worker's thread. A batch
 * without ids is a monitor fault (logged, published as a {@code MonitorError} naming the fix,
 * training goes on). Keeps no state between batches (a worker gets a fresh copy every averaging
 * round); holds no network (serialisable: the configuration only). MultiLayerNetwork and
 * single-input single-output ComputationGraph (output layer with one input vertex), as the one-JVM
 * monitor; on a graph the batch is the worker's {@code MultiDataSet}, whose example ids survive only
 * when each RDD element is one whole minibatch ({@link StethoscopeSpark#fit}).
 */
public final class WorkerDynamicsListener extends StethoscopeListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    private final LogitCapture logits;
    private final int numExamples;
    private final int numClasses;

    private WorkerDynamicsListener(Builder b, int numClasses) {
        super(b);
        this.logits = b.builderModel() instanceof ComputationGraph g
                ? new LogitCapture(g, TrainingDynamicsListener.Capture.TRAIN_PASS)
                : new LogitCapture((MultiLayerNetwork) b.builderModel(), TrainingDynamicsListener.Capture.TRAIN_PASS);
        this.numExamples = b.numExamples;
        this.numClasses = numClasses;
    }

    /** A builder for {@code model} (the driver's network, to check the configuration). */
    public static Builder builder(Model model, StatsStorageRouter router) {
        return new Builder(model, router);
    }

    @Override
    public String monitorName() {
        return "training-dynamics";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("side", "spark-worker");
        m.put("numExamples", Integer.toString(numExamples));
        m.put("numClasses", Integer.toString(numClasses));
        m.put("capture", TrainingDynamicsListener.Capture.TRAIN_PASS.key());
        return m;
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        if (model instanceof MultiLayerNetwork) {
            capture(model, activations.get(0).size(0), features -> logits.now(activations, features));
        }
    }

    /** A ComputationGraph's training forward pass: the logits from the vertex feeding the output layer. */
    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        if (model instanceof ComputationGraph g) {
            INDArray input = activations.get(g.getConfiguration().getNetworkInputs().get(0));
            capture(model, input.size(0), features -> logits.now(activations, features));
        }
    }

    private interface Logits {
        double[] of(INDArray features);
    }

    private void capture(Model model, long rows, Logits now) {
        bind(model);
        guard("worker-capture", () -> {
            DataSet batch = BatchHook.current();
            if (batch == null) {
                throw new IllegalStateException("No batch is declared on this thread: the Spark training master "
                        + "needs Stethoscope's BatchHook (StethoscopeSpark.attach adds it)");
            }
            if (batch.numExamples() != rows || !ExampleIndex.hasIndices(batch)) {
                throw new IllegalArgumentException("The worker's batch of " + rows + " rows carries no example ids "
                        + "(metadata: " + (batch.getExampleMetaData() == null ? "none"
                        : batch.getExampleMetaData().size() + " entries") + "). Give every example of the training "
                        + "RDD its id with StethoscopeSpark.indexExamples(rdd), or: " + ExampleIndex.HOW_TO
                        + " With ParameterAveragingTrainingMaster use RDDTrainingApproach.Direct (exported "
                        + "batches lose their metadata); on a ComputationGraph make each RDD element one whole "
                        + "minibatch of batchSizePerWorker examples (DL4J merges smaller MultiDataSets without "
                        + "their metadata)");
            }
            long[] ids = ExampleIndex.indicesOf(batch);
            for (long id : ids) {
                if (id < 0 || id >= numExamples) {
                    throw new IllegalArgumentException("Example id " + id + " outside [0, " + numExamples
                            + "): numExamples must count every training example");
                }
            }
            int[] labels = TrainingDynamics.labelsOf(batch.getLabels());
            double[] z;
            try (MemoryWorkspace ws = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                logits.use(requireModel());
                z = now.of(batch.getFeatures());
            }
            publish(new ExampleLogits(ids, labels, z), currentEpoch(), currentIteration());
        });
    }

    /** Builder; {@code numExamples} is required. */
    public static final class Builder extends StethoscopeListener.Builder<Builder, WorkerDynamicsListener> {
        private int numExamples = -1;

        Builder(Model model, StatsStorageRouter router) {
            super(model, router);
        }

        /** N: the number of training examples; ids must lie in [0, N). Required. */
        public Builder numExamples(int n) {
            this.numExamples = n;
            return this;
        }

        @Override
        public WorkerDynamicsListener build() {
            if (numExamples <= 0) {
                throw new IllegalArgumentException("numExamples(N) is required: the number of training examples "
                        + "(example ids must lie in [0, N))");
            }
            Layer out;
            if (model instanceof ComputationGraph g) {
                if (g.getLayers() == null || g.getLayers().length == 0) {
                    throw new IllegalArgumentException("The network is not initialised: call net.init() first");
                }
                var conf = g.getConfiguration();
                if (conf.getNetworkInputs().size() != 1 || conf.getNetworkOutputs().size() != 1) {
                    throw new IllegalArgumentException("The training-dynamics monitor on a ComputationGraph needs one "
                            + "input and one output; this graph has inputs " + conf.getNetworkInputs() + " and outputs "
                            + conf.getNetworkOutputs());
                }
                String outName = conf.getNetworkOutputs().get(0);
                var in = conf.getVertexInputs().get(outName);
                if (!g.getVertex(outName).hasLayer() || in == null || in.size() != 1) {
                    throw new IllegalArgumentException("The training-dynamics monitor needs the graph's output vertex '"
                            + outName + "' to be an output layer with one input vertex");
                }
                out = g.getVertex(outName).getLayer();
            } else if (model instanceof MultiLayerNetwork mln) {
                if (mln.getLayers() == null || mln.getLayers().length == 0) {
                    throw new IllegalArgumentException("The network is not initialised: call net.init() first");
                }
                out = mln.getLayer(mln.getnLayers() - 1);
            } else {
                throw new IllegalArgumentException("The training-dynamics monitor supports MultiLayerNetwork and "
                        + "ComputationGraph; got " + model.getClass().getSimpleName());
            }
            if (!(out instanceof BaseOutputLayer<?>) || out.getParam("W") == null) {
                throw new IllegalArgumentException("The training-dynamics monitor needs an output layer with weights "
                        + "(OutputLayer, e.g. softmax + MCXENT); the last layer is "
                        + out.conf().getLayer().getClass().getSimpleName());
            }
            return new WorkerDynamicsListener(this, (int) ((FeedForwardLayer) out.conf().getLayer()).getNOut());
        }
    }
}
