package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.data.ExampleIdentityException;
import dev.stethoscope.listeners.data.ExampleIndex;
import dev.stethoscope.listeners.data.MappingDataSetIterator;
import dev.stethoscope.listeners.dynamics.GraphLabels;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureHistogram;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.probes.features.AlignedPca;
import dev.stethoscope.probes.features.DeconvProjection;
import dev.stethoscope.probes.features.ExemplarChange;
import dev.stethoscope.probes.features.FixedBinHistogram;
import dev.stethoscope.probes.features.ReceptiveField;
import dev.stethoscope.probes.features.StreamingTopK;
import dev.stethoscope.probes.features.TopKSnapshot;
import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.layers.BaseOutputLayer;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Feature evolution (Zeiler &amp; Fergus 2014, Figs. 2 and 4; METHODS.md section 1): what each unit responds to,
 * epoch by epoch. Publishes one {@link FeatureSnapshot} per chosen layer at each scheduled epoch.
 *
 * <p><b>Streaming.</b> During a scheduled epoch the activations of the training forward pass itself (DL4J hands
 * them to {@code onForwardPass}; no extra forward pass) feed one {@link StreamingTopK} per chosen layer: per
 * layer {@link Builder#unitsPerLayer} evenly spaced units (default 16; a convolution or pooling channel counts with
 * its maximum over positions), and every filter of a first layer that is a convolution. The top-k are reset when a scheduled epoch starts, so each snapshot
 * holds that epoch's strongest examples. What the snapshot needs of the input of each top-k entry is kept: for a
 * unit whose receptive field is smaller than the input (convolution and pooling units) the
 * receptive-field crop at the entry's position ({@link ReceptiveField#crop}: the field clipped to the image, with
 * its place in the image; the part of the field outside the image is the layers' padding), copied when the entry
 * enters the top-k; for a unit that sees the whole input (dense layers, convolution units whose field covers the
 * image) a copy of the example's whole input row, shared by all such units.
 *
 * <p><b>Example indices</b> come from {@link ExampleIdentity}, as for the suspects monitor, with the listener
 * added by {@code addListeners} alone: by default each example is named by a hash of its content (the training
 * pass's input row and label), so an index names the same example in every epoch even when the iterator shuffles
 * (indices in order of first appearance: the data-set index for an iterator that does not shuffle). With the
 * iterator wrapped by {@link #track(DataSetIterator)} and batches carrying {@link ExampleIndex} indices (or other
 * DataVec record metadata), those are used instead. If examples cannot be followed (random augmentation changes
 * their content every epoch), one warning and one {@code MonitorError} (phase "example-identity") are published
 * and indices fall back to the example's position in the epoch's stream (0, 1, 2, ... from the epoch's first
 * batch): the crops and projections stay right, but "the top-1 example changed" then compares positions, not
 * examples. Content hashing costs one pass over each streamed batch's input in Java (ratio to an epoch in
 * docs/suspects.md, "Example identity").
 *
 * <p><b>Snapshot</b> (end of a scheduled epoch, on a private {@link NetworkCopy}, never on the training
 * network): per layer the top-k of each unit with the receptive-field crop of each entry's input and its
 * deconvnet projection ({@link DeconvProjection}, from the entry's position only, cropped to the same window; made
 * from the kept crop alone by {@link DeconvProjection#projectCrops}, which equals the whole input's projection in
 * that window; omitted when the network has layers or activations the deconvnet does not support), the change since the
 * previous snapshot ({@link ExemplarChange}) and the running settled-at epoch (the top-k are those of the epoch's
 * training passes, the projections are made with the network as it is at the epoch's end, as in the paper), the first layer's filters when it is
 * a convolution, and histograms of the layer's weights and of its activations on a fixed set of probe examples
 * (the first {@link Builder#probeExamples} training examples of the first scheduled epoch), both on bins fixed at
 * the first snapshot ({@link FixedBinHistogram}). With {@link Builder#projectionData held-out data} given, also the
 * 2-D projection of one layer ({@link Builder#projectionLayer}, default the last followed layer) on a fixed set of
 * those points (default the first 2000): PCA, each snapshot aligned to the previous one by orthogonal Procrustes
 * ({@link AlignedPca}), published as a {@link FeatureProjection} with each point's class.
 *
 * <p><b>Memory.</b> Between snapshots: O(units x k) top-k entries; the kept inputs ({@link #heldInputBytes()}), at
 * most {@link #heldInputBoundBytes()} = sum over the followed layers l of
 * {@code u(l) x k x C x min(Fh(l), H) x min(Fw(l), W) x b} bytes, where u(l) is the number of followed units of
 * layer l, C x H x W the input, Fh(l) x Fw(l) the receptive field of a unit of l ({@link ReceptiveField#fieldSize};
 * the whole input for dense units) and b the bytes per value of the network's data type (4 for float); logged at
 * attach. (Whole-input rows shared by several units or layers are held once, so the bound is not always reached.)
 * LeNet on MNIST (k = 9; conv1 20 units, field 5x5; conv2 16, field 14x14; dense 16, whole 28x28; float):
 * 20 x 9 x 100 B + 16 x 9 x 784 B + 16 x 9 x 3136 B = 582,480 B; a 3x224x224 input would cost
 * 602,112 B per whole-input entry, a 3x40x40 crop 19,200 B. Also the probe examples (whole rows) and one network
 * copy. Each snapshot record holds per unit k crops and k projections of the receptive-field size.
 *
 * <p>Schedule: {@link Schedule#atEpochs} or {@link Schedule#epochs}; default
 * {@code Schedule.atEpochs(1, 2, 5, 10, 20, 30, 40, 64).andLast()}. With {@code andLast()} and no
 * {@link Schedule#totalEpochs(int) run length}, every epoch is streamed (the last one is not known in advance) and
 * {@link #close()} publishes the last epoch's snapshot.
 *
 * <p><b>ComputationGraph</b> (one input, one output; {@link #builder(ComputationGraph, StatsStorageRouter)}): layers
 * are addressed by vertex name (or DL4J layer index in {@code getLayers()} order); the top-k stream from the
 * activations DL4J hands to {@code onForwardPass(Model, Map)} during training (labels for the content hash read from
 * the graph); receptive fields go over the graph's vertices ({@link ReceptiveField#of(ComputationGraph, int, int,
 * int)}: union of the inputs' fields at element-wise vertices, the source channels' field at a merge); deconvnet
 * projections go down the graph ({@link DeconvProjection#DeconvProjection(ComputationGraph)}); the first layer is
 * the first layer vertex in topological order. Snapshots run on a copy of the graph, as for a network.
 *
 * <p><b>Several inputs</b> (a single-output graph whose inputs are flat: feed-forward, or
 * {@code InputType.convolutionalFlat}, as for the other monitors that hold examples): each input's geometry comes from
 * the FeedForwardToCnn preprocessor reading it (else its size as one square channel, or one row); an example is named
 * by the content of its joint form ({@link dev.stethoscope.probes.model.GraphInputs}: the inputs flattened and
 * concatenated in the graph's order) and label; the receptive field of a unit is taken in every input that reaches it
 * ({@link ReceptiveField#of(ComputationGraph, int[][])}): a unit behind a merge of two branches has a window in each
 * branch's input, a unit behind a dense layer sees the inputs below it whole. Per entry the crop in each input it sees
 * part of is kept, and the joint row when it sees an input whole; the deconvnet projection goes into every input that
 * reaches the unit ({@link DeconvProjection#projectParts}). The records name the inputs: {@link FeatureSnapshot#inputs}
 * (those reaching the layer), per unit {@link FeatureUnit#input} (of its crops and projections) and
 * {@link FeatureUnit#otherInputs} (the further inputs' crops and projections). The first layer of each input's stem
 * publishes its filters. Probe examples and {@link Builder#projectionData} are in the joint form.
 */
public final class FeatureEvolutionListener extends StethoscopeListener {
    private static final long serialVersionUID = 1L;
    private static final Logger log = LoggerFactory.getLogger(FeatureEvolutionListener.class);

    /** The paper's epochs (Fig. 4). */
    public static final Schedule DEFAULT_SCHEDULE = Schedule.atEpochs(1, 2, 5, 10, 20, 30, 40, 64).andLast();

    /**
     * Crops projected together at a snapshot (8 units of k = 9): one pass through the network per batch instead of one
     * per unit (docs/features.md, the resnet's snapshot cost); bounds the batch's activations.
     */
    static final int PROJECTION_BATCH = 72;

    private final Schedule schedule;
    private final int[] layers;
    /** Graphs: the layer vertex name of each DL4J layer index; null for a MultiLayerNetwork. */
    private final String[] vertexNames;
    /** The network's first layer (the one reading the input): index 0 in a MultiLayerNetwork. */
    private final int firstLayer;
    /**
     * The first layer of each input's stem (graphs with several inputs: per input, the first layer vertex in
     * topological order that it reaches); {firstLayer} otherwise.
     */
    private final int[] firstLayers;
    /** Graphs with several inputs: each input's geometry {c, h, w}, in the graph's order; null otherwise. */
    private final int[][] inputShapes;
    /** Graphs with several inputs: the input names; null otherwise. */
    private final List<String> inputNames;
    private final List<String> trackedNames;
    private final int k;
    private final int unitsPerLayer;
    private final int probeExamples;
    private final int bins;
    private final int[] inputShape;
    private final int projectionLayer;
    private final INDArray projectionInputs;
    private final int[] projectionClasses;
    private final long heldInputBound;
    private final String boundText;

    private transient State st;
    private int epochsSeen;
    private int streamedEpoch = -1;
    private int lastSnapshotEpoch = -1;
    private boolean streaming;
    private boolean closed;
    private long streamNanos;
    private long snapshotNanos;
    private long streamCpuNanos;
    private long snapshotCpuNanos;
    private long projectionNanos;

    /** Per-run state, not serialised (a worker starts afresh). */
    private static final class State {
        final Map<Integer, StreamingTopK> topk = new LinkedHashMap<>();
        /** Whole input rows of the entries of units that see the whole input, by example. */
        final Map<Long, INDArray> inputs = new HashMap<>();
        /** Receptive-field crops of the entries of units whose field is smaller than the input. */
        final Map<CropKey, ReceptiveField.Crop> crops = new HashMap<>();
        ReceptiveField rf;
        long[] exampleShape;
        /** Several inputs: the shape of one example of each input as the graph takes it. */
        long[][] exampleShapes;
        final Map<Integer, TopKSnapshot> previous = new HashMap<>();
        final Map<Integer, List<Integer>> epochs = new HashMap<>();
        final Map<Integer, List<Double>> fractions = new HashMap<>();
        final Map<Integer, FixedBinHistogram> weightBins = new HashMap<>();
        final Map<Integer, FixedBinHistogram> activationBins = new HashMap<>();
        final List<INDArray> probeRows = new ArrayList<>();
        int probeCount;
        long counter;
        DataSet pending;
        final ExampleIdentity identity = new ExampleIdentity(Integer.MAX_VALUE);
        boolean identityReported;
        NetworkCopy copy;
        boolean deconvWarned;
        AlignedPca.Projection projection;
    }

    /** A kept crop: the entry's layer, example and position, and the input it is cut from (0 with one input). */
    private record CropKey(int layer, long example, int y, int x, int input) {
        CropKey(int layer, long example, int y, int x) {
            this(layer, example, y, x, 0);
        }
    }

    private FeatureEvolutionListener(Builder b, int[] layers, int[] inputShape, int projectionLayer, int[][] shapes) {
        super(b);
        this.vertexNames = b.net() instanceof ComputationGraph g ? layerNames(g) : null;
        this.firstLayer = firstLayer(b.net());
        this.inputShapes = shapes;
        this.inputNames = shapes == null ? null
                : List.copyOf(((ComputationGraph) b.net()).getConfiguration().getNetworkInputs());
        this.firstLayers = shapes == null ? new int[]{firstLayer} : stemLayers((ComputationGraph) b.net(), shapes);
        List<String> tracked = new ArrayList<>();
        for (int l : layers) {
            String nm = layerConf(b.net(), l).getLayerName();
            tracked.add(nm == null ? "layer" + l : nm);
        }
        this.trackedNames = List.copyOf(tracked);
        long[] bound = shapes == null ? inputBound(b, layers, inputShape) : inputBound(b, layers, shapes, firstLayers);
        this.heldInputBound = bound[0];
        this.boundText = boundText(b, layers, shapes == null ? new int[][]{inputShape} : shapes, bound);
        log.info("Feature evolution: between snapshots at most {} bytes of inputs are kept ({}); the activation "
                        + "histograms' probe set keeps {} whole rows ({} B)", heldInputBound, boundText, b.probeExamples,
                (long) b.probeExamples * jointSize(shapes == null ? new int[][]{inputShape} : shapes) * dataWidth(b.net()));
        this.projectionLayer = projectionLayer;
        if (projectionLayer >= 0) {
            int n = (int) Math.min(b.projectionPoints, b.projectionData.numExamples());
            try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                this.projectionInputs = b.projectionData.getFeatures().get(NDArrayIndex.interval(0, n)).dup();
            }
            INDArray labels = b.projectionData.getLabels();
            this.projectionClasses = new int[n];
            for (int i = 0; i < n; i++) {
                projectionClasses[i] = labels == null ? -1
                        : labels.size(1) == 1 ? labels.getInt(i, 0) : labels.getRow(i).argMax().getInt(0);
            }
        } else {
            this.projectionInputs = null;
            this.projectionClasses = null;
        }
        this.schedule = b.resolvedSchedule();
        this.layers = layers;
        this.k = b.k;
        this.unitsPerLayer = b.unitsPerLayer;
        this.probeExamples = b.probeExamples;
        this.bins = b.bins;
        this.inputShape = inputShape;
    }

    /** A builder for {@code net}, publishing to {@code router}. */
    public static Builder builder(MultiLayerNetwork net, StatsStorageRouter router) {
        return new Builder(net, router);
    }

    /**
     * A builder for a single-output ComputationGraph (one input, or several flat ones: see the class comment),
     * publishing to {@code router}. Layers are addressed
     * by vertex name (or DL4J layer index, {@code graph.getLayers()} order); the streaming top-k read the graph's
     * training forward pass ({@code onForwardPass(Model, Map)}), snapshots run on a copy, and the receptive fields
     * and deconvnet projections go over the graph's vertices ({@link ReceptiveField#of(ComputationGraph, int, int,
     * int)}, {@link DeconvProjection#DeconvProjection(ComputationGraph)}).
     */
    public static Builder builder(ComputationGraph graph, StatsStorageRouter router) {
        return new Builder(graph, router);
    }

    /** A builder for a MultiLayerNetwork or a ComputationGraph. */
    public static Builder builder(Model model, StatsStorageRouter router) {
        if (model instanceof ComputationGraph g) {
            return builder(g, router);
        }
        if (model instanceof MultiLayerNetwork n) {
            return builder(n, router);
        }
        throw new IllegalArgumentException("FeatureEvolutionListener: supports MultiLayerNetwork and ComputationGraph; got "
                + (model == null ? "null" : model.getClass().getSimpleName()));
    }

    /** Layer vertex names by DL4J layer index. */
    private static String[] layerNames(ComputationGraph g) {
        org.deeplearning4j.nn.api.Layer[] ls = g.getLayers();
        String[] n = new String[ls.length];
        for (int i = 0; i < ls.length; i++) {
            n[i] = ls[i].conf().getLayer().getLayerName();
        }
        return n;
    }

    /** The first layer: 0 in a MultiLayerNetwork, in a graph the first layer vertex in topological order. */
    private static int firstLayer(Model model) {
        if (model instanceof ComputationGraph g) {
            List<String> names = Arrays.asList(layerNames(g));
            for (int idx : g.topologicalSortOrder()) {
                int i = names.indexOf(g.getVertices()[idx].getVertexName());
                if (i >= 0) {
                    return i;
                }
            }
        }
        return 0;
    }

    private static int dataWidth(Model model) {
        return model instanceof ComputationGraph g ? g.getConfiguration().getDataType().width()
                : ((MultiLayerNetwork) model).getLayerWiseConfigurations().getDataType().width();
    }

    private static org.deeplearning4j.nn.conf.layers.Layer layerConf(Model model, int l) {
        return model instanceof ComputationGraph g ? g.getLayer(l).conf().getLayer()
                : ((MultiLayerNetwork) model).getLayer(l).conf().getLayer();
    }

    private static int numLayers(Model model) {
        return model instanceof ComputationGraph g ? g.getNumLayers() : ((MultiLayerNetwork) model).getnLayers();
    }

    private static ReceptiveField fieldOf(Model model, int[] shape) {
        return model instanceof ComputationGraph g ? ReceptiveField.of(g, shape[0], shape[1], shape[2])
                : ReceptiveField.of((MultiLayerNetwork) model, shape[0], shape[1], shape[2]);
    }

    /** The geometry of this listener's network: per input for a graph with several inputs. */
    private ReceptiveField field(Model model) {
        return inputShapes != null ? ReceptiveField.of((ComputationGraph) model, inputShapes) : fieldOf(model, inputShape);
    }

    /**
     * Each input's geometry of a graph with several (flat) inputs: a FeedForwardToCnn preprocessor reading it
     * ({@code InputType.convolutionalFlat}), else its size as one square channel when square, else one row.
     */
    private static int[][] graphInputShapes(ComputationGraph g) {
        List<String> names = g.getConfiguration().getNetworkInputs();
        long[] sizes = dev.stethoscope.probes.model.GraphInputs.inputSizes(g);
        int[][] out = new int[names.size()][];
        for (int i = 0; i < out.length; i++) {
            int[] known = ReceptiveField.inputShapeOf(g, names.get(i));
            if (known == null) {
                int n = (int) sizes[i];
                int side = (int) Math.round(Math.sqrt(n));
                known = (long) side * side == n ? new int[]{1, side, side} : new int[]{1, 1, n};
            }
            out[i] = known;
        }
        return out;
    }

    /** Per input, the first layer vertex in topological order that it reaches (its stem's first layer). */
    private static int[] stemLayers(ComputationGraph g, int[][] shapes) {
        ReceptiveField rf = ReceptiveField.of(g, shapes);
        List<String> names = Arrays.asList(layerNames(g));
        int[] out = new int[shapes.length];
        Arrays.fill(out, -1);
        for (int idx : g.topologicalSortOrder()) {
            int l = names.indexOf(g.getVertices()[idx].getVertexName());
            if (l < 0) {
                continue;
            }
            for (int i = 0; i < shapes.length; i++) {
                if (out[i] < 0 && rf.reaches(l, i)) {
                    out[i] = l;
                }
            }
        }
        return out;
    }

    private boolean isFirst(int layer) {
        for (int f : firstLayers) {
            if (f == layer) {
                return true;
            }
        }
        return false;
    }

    private static long jointSize(int[][] shapes) {
        long n = 0;
        for (int[] s : shapes) {
            n += (long) s[0] * s[1] * s[2];
        }
        return n;
    }

    /**
     * Whether this monitor can follow {@code model} with its default settings: a MultiLayerNetwork whose layers
     * the receptive-field geometry understands ({@link ReceptiveField#SUPPORTED}), or a single-output
     * ComputationGraph (one input, or several flat ones) whose vertices it understands ({@link ReceptiveField#SUPPORTED_VERTICES}), with at least one
     * convolution or dense layer before the output layer. The presets of the {@code Stethoscope} handle attach it only then.
     */
    public static boolean supports(Model model) {
        if (!(model instanceof MultiLayerNetwork) && !(model instanceof ComputationGraph)) {
            return false;
        }
        try {
            new Builder(model, new org.deeplearning4j.ui.model.storage.InMemoryStatsStorage()).validate();
            return true;
        } catch (RuntimeException e) {
            return false;
        }
    }

    @Override
    public String monitorName() {
        return "features";
    }

    @Override
    protected Map<String, String> settings() {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("schedule", schedule.toString());
        m.put("layers", vertexNames == null ? Arrays.toString(layers) : Arrays.toString(names(layers)));
        m.put("k", String.valueOf(k));
        m.put("unitsPerLayer", String.valueOf(unitsPerLayer));
        m.put("probeExamples", String.valueOf(probeExamples));
        m.put("bins", String.valueOf(bins));
        if (inputShapes == null) {
            m.put("inputShape", Arrays.toString(inputShape));
        } else {
            List<String> per = new ArrayList<>();
            for (int i = 0; i < inputShapes.length; i++) {
                per.add(inputNames.get(i) + " " + inputShapes[i][0] + "x" + inputShapes[i][1] + "x" + inputShapes[i][2]);
            }
            m.put("inputs", String.join(", ", per));
        }
        m.put("projectionLayer", String.valueOf(projectionLayer));
        m.put("projectionPoints", String.valueOf(projectionClasses == null ? 0 : projectionClasses.length));
        m.put("heldInputBoundBytes", String.valueOf(heldInputBound));
        return m;
    }

    /** When snapshots are taken. */
    public Schedule schedule() {
        return schedule;
    }

    /** Wall time spent streaming the top-k inside {@code onForwardPass} so far, in nanoseconds. */
    public long streamNanos() {
        return streamNanos;
    }

    /** Wall time spent taking snapshots so far, in nanoseconds. */
    public long snapshotNanos() {
        return snapshotNanos;
    }

    /**
     * CPU time of the training thread spent streaming the top-k so far, in nanoseconds (0 when the JVM cannot
     * measure thread CPU time). ND4J's native work is counted only where it runs on the calling thread (one
     * OpenMP thread: {@code OMP_NUM_THREADS=1}).
     */
    public long streamCpuNanos() {
        return streamCpuNanos;
    }

    /** CPU time of the training thread spent taking snapshots so far, in nanoseconds (see {@link #streamCpuNanos}). */
    public long snapshotCpuNanos() {
        return snapshotCpuNanos;
    }

    /** Wall time of the 2-D projections so far (part of {@link #snapshotNanos}), in nanoseconds. */
    public long projectionNanos() {
        return projectionNanos;
    }

    private static long threadCpu() {
        java.lang.management.ThreadMXBean t = java.lang.management.ManagementFactory.getThreadMXBean();
        return t.isCurrentThreadCpuTimeSupported() ? t.getCurrentThreadCpuTime() : 0;
    }

    /**
     * Bytes of input data kept right now for the top-k entries (crops and whole rows, as their arrays' length times
     * the bytes per value); between snapshots at most {@link #heldInputBoundBytes()}. The probe examples of the
     * activation histograms are not counted.
     */
    public long heldInputBytes() {
        State s = st;
        if (s == null) {
            return 0;
        }
        long b = 0;
        for (INDArray a : s.inputs.values()) {
            b += a.length() * a.dataType().width();
        }
        for (ReceptiveField.Crop c : s.crops.values()) {
            b += c.pixels().length() * c.pixels().dataType().width();
        }
        return b;
    }

    /** Number of receptive-field crops kept right now (see {@link #heldInputBytes()}). */
    public int heldCrops() {
        return st == null ? 0 : st.crops.size();
    }

    /** Number of whole input rows kept right now (see {@link #heldInputBytes()}). */
    public int heldWholeInputs() {
        return st == null ? 0 : st.inputs.size();
    }

    /**
     * The bound on {@link #heldInputBytes()} stated in the class comment: the sum over followed layers of
     * units x k x the largest crop (the whole input for units that see all of it) x bytes per value.
     */
    public long heldInputBoundBytes() {
        return heldInputBound;
    }

    /** The bound's terms per layer, as logged at attach. */
    public String heldInputBoundText() {
        return boundText;
    }

    private String[] names(int[] ls) {
        String[] n = new String[ls.length];
        for (int i = 0; i < ls.length; i++) {
            n[i] = vertexNames[ls[i]];
        }
        return n;
    }

    /** Units followed in each layer (every filter of a first convolution layer, else up to unitsPerLayer). */
    private static int followed(boolean first, boolean spatial, int channels, int unitsPerLayer) {
        return (first && spatial) || channels <= unitsPerLayer ? channels : unitsPerLayer;
    }

    /**
     * Channels (or neurons) of layer {@code l}: its nOut, or that of the nearest layer below with one (graphs: the
     * channels the receptive-field geometry tracked).
     */
    private static int channelsOf(Model model, ReceptiveField rf, int l, int inputChannels) {
        if (model instanceof ComputationGraph) {
            var conf = layerConf(model, l);
            if (conf instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer f && f.getNOut() > 0) {
                return (int) f.getNOut();
            }
            int c = rf.outputChannels(l);
            return c > 0 ? c : inputChannels;
        }
        MultiLayerNetwork net = (MultiLayerNetwork) model;
        for (int i = l; i >= 0; i--) {
            var conf = net.getLayer(i).conf().getLayer();
            if (conf instanceof org.deeplearning4j.nn.conf.layers.FeedForwardLayer f && f.getNOut() > 0) {
                return (int) f.getNOut();
            }
        }
        return inputChannels;
    }

    /** {total, then per layer: bytes per entry, units}. */
    private static long[] inputBound(Builder b, int[] layers, int[] shape) {
        ReceptiveField rf = fieldOf(b.net(), shape);
        int width = dataWidth(b.net());
        int first = firstLayer(b.net());
        long[] out = new long[1 + 2 * layers.length];
        for (int j = 0; j < layers.length; j++) {
            int l = layers[j];
            int[] c = rf.cropsSmallerThanInput(l) ? rf.maxCropShape(l) : shape;
            long entry = (long) c[0] * c[1] * c[2] * width;
            int units = followed(l == first, !rf.seesWholeInput(l), channelsOf(b.net(), rf, l, shape[0]), b.unitsPerLayer);
            out[1 + 2 * j] = entry;
            out[2 + 2 * j] = units;
            out[0] += entry * units * b.k;
        }
        return out;
    }

    /**
     * {total, then per layer: bytes per entry, units} for a graph with several inputs: per entry, the crop in each
     * input the layer sees part of, plus the example's whole joint row when it sees any input whole.
     */
    private static long[] inputBound(Builder b, int[] layers, int[][] shapes, int[] stems) {
        ComputationGraph g = (ComputationGraph) b.net();
        ReceptiveField rf = ReceptiveField.of(g, shapes);
        int width = dataWidth(g);
        long[] out = new long[1 + 2 * layers.length];
        for (int j = 0; j < layers.length; j++) {
            int l = layers[j];
            long entry = 0;
            boolean whole = false;
            boolean spatial = false;
            for (int i : rf.inputsOf(l)) {
                if (rf.cropsSmallerThanInput(l, i)) {
                    int[] c = rf.maxCropShape(l, i);
                    entry += (long) c[0] * c[1] * c[2];
                    spatial = true;
                } else {
                    whole = true;
                }
            }
            if (whole) {
                entry += jointSize(shapes);
            }
            entry *= width;
            boolean first = false;
            for (int f : stems) {
                first |= f == l;
            }
            int units = followed(first, spatial || !rf.seesWholeInput(l, rf.inputsOf(l)[0]),
                    channelsOf(g, rf, l, shapes[0][0]), b.unitsPerLayer);
            out[1 + 2 * j] = entry;
            out[2 + 2 * j] = units;
            out[0] += entry * units * b.k;
        }
        return out;
    }

    private static String boundText(Builder b, int[] layers, int[][] shapes, long[] bound) {
        boolean several = shapes.length > 1;
        ReceptiveField rf = several ? ReceptiveField.of((ComputationGraph) b.net(), shapes) : fieldOf(b.net(), shapes[0]);
        int width = dataWidth(b.net());
        List<String> parts = new ArrayList<>();
        for (int j = 0; j < layers.length; j++) {
            int l = layers[j];
            String name = layerConf(b.net(), l).getLayerName();
            String what;
            if (several) {
                List<String> per = new ArrayList<>();
                boolean whole = false;
                for (int i : rf.inputsOf(l)) {
                    if (rf.cropsSmallerThanInput(l, i)) {
                        int[] c = rf.maxCropShape(l, i);
                        per.add("crop " + c[0] + "x" + c[1] + "x" + c[2] + " of " + rf.inputNames().get(i));
                    } else {
                        whole = true;
                    }
                }
                if (whole) {
                    per.add("joint row of " + jointSize(shapes) + " values");
                }
                what = "(" + String.join(" + ", per) + ")";
            } else {
                int[] c = rf.cropsSmallerThanInput(l) ? rf.maxCropShape(l) : shapes[0];
                what = (rf.cropsSmallerThanInput(l) ? "crop " : "whole input ") + c[0] + "x" + c[1] + "x" + c[2];
            }
            parts.add((name == null ? "layer" + l : name) + ": " + bound[2 + 2 * j] + " units x k=" + b.k + " x "
                    + what + " x " + width + " B = " + bound[2 + 2 * j] * b.k * bound[1 + 2 * j] + " B");
        }
        return String.join("; ", parts);
    }

    /** The tracked DL4J layer indices (graphs: {@code getLayers()} order; see {@link #layerNames()}). */
    public int[] layers() {
        return layers.clone();
    }

    /** The tracked layers' names (graphs: the vertex names), in the order of {@link #layers()}. */
    public List<String> layerNames() {
        return trackedNames;
    }

    private State state() {
        if (st == null) {
            st = new State();
        }
        return st;
    }

    /**
     * Optional: wraps a training iterator so that the example indices or metadata its batches carry
     * ({@link ExampleIndex}) name the examples in the top-k (see the class comment); batches without them are
     * named by content hash.
     * The wrapper is never asynchronous (the declared batch must be the one trained next).
     */
    public DataSetIterator track(DataSetIterator iterator) {
        return new MappingDataSetIterator(iterator, this::declare, null);
    }

    private DataSet declare(DataSet ds) {
        state().pending = ds;
        return ds;
    }

    /**
     * Whether the epoch begun by the last {@code onEpochStart} is streamed (its training passes feed
     * the top-k). A caller that feeds {@code onForwardPass} itself (the Spark module's driver, which
     * gets no training passes) skips the extra forward passes when it is not.
     */
    public boolean streaming() {
        return streaming;
    }

    private boolean streams(int epoch) {
        return schedule.dueAtEpochEnd(epoch) || (schedule.includesLast() && schedule.totalEpochs() == null);
    }

    @Override
    public void onEpochStart(Model model) {
        bind(model);
        int epoch = epochsSeen + 1;
        streaming = streams(epoch);
        if (streaming) {
            guard("epoch-start", () -> {
                State s = state();
                s.topk.values().forEach(StreamingTopK::reset);
                s.inputs.clear();
                s.crops.clear();
                s.counter = 0;
                streamedEpoch = epoch;
            });
        }
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        bind(model);
        if (!streaming || !(model instanceof MultiLayerNetwork)) {
            return;
        }
        long t0 = System.nanoTime();
        long c0 = threadCpu();
        guard("forward-pass", () -> stream(model, activations.get(0), l -> activations.get(l + 1),
                ((MultiLayerNetwork) model).getLabels()));
        streamCpuNanos += threadCpu() - c0;
        streamNanos += System.nanoTime() - t0;
    }

    /**
     * A ComputationGraph's training forward pass: every vertex's activation by name (the network input included);
     * the batch's labels (for the content hash naming examples) are read from the graph when no tracked DataSet
     * was declared.
     */
    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        bind(model);
        if (!streaming || !(model instanceof ComputationGraph g)) {
            return;
        }
        long t0 = System.nanoTime();
        long c0 = threadCpu();
        guard("forward-pass", () -> {
            INDArray labels;
            try {
                labels = GraphLabels.of(g);
            } catch (IllegalStateException e) {
                labels = null; // the content hash then covers the features alone
            }
            if (inputShapes != null) {
                INDArray[] xs = new INDArray[inputNames.size()];
                for (int i = 0; i < xs.length; i++) {
                    xs[i] = activations.get(inputNames.get(i));
                }
                streamInputs(model, xs, l -> activations.get(vertexNames[l]), labels);
            } else {
                stream(model, activations.get(g.getConfiguration().getNetworkInputs().get(0)),
                        l -> activations.get(vertexNames[l]), labels);
            }
        });
        streamCpuNanos += threadCpu() - c0;
        streamNanos += System.nanoTime() - t0;
    }

    /**
     * The ids of a training batch's examples: from the declared batch's metadata or the content hash (one warning and
     * one error record when examples cannot be followed, then their position in the epoch).
     */
    private long[] exampleIds(State s, INDArray in, INDArray labels) {
        int n = (int) in.size(0);
        DataSet declared = s.pending;
        s.pending = null;
        long[] idx = s.identity.identify(declared, in, labels, streamedEpoch);
        if (idx == null && !s.identityReported) {
            s.identityReported = true;
            log.warn("Stethoscope monitor '{}' names examples by their position in the epoch from now on: {}",
                    monitorName(), s.identity.reason());
            publish(MonitorError.of(monitorName(), "example-identity",
                    new ExampleIdentityException(s.identity.reason())), currentEpoch(), currentIteration());
        }
        if (idx == null || idx.length != n) {
            idx = new long[n];
            for (int i = 0; i < n; i++) {
                idx[i] = s.counter + i;
            }
        }
        s.counter += n;
        return idx;
    }

    /** Offers layer {@code l}'s activations of a batch to its streaming top-k and returns the top-k so far. */
    private TopKSnapshot offer(State s, int l, INDArray a, long[] idx) {
        StreamingTopK t = s.topk.get(l);
        if (t == null) {
            t = new StreamingTopK(unitsOf(a, l), k);
            s.topk.put(l, t);
        }
        t.offer(a, idx);
        return t.snapshot();
    }

    private void stream(Model net, INDArray in, java.util.function.IntFunction<INDArray> activation, INDArray labels) {
        State s = state();
        if (s.rf == null) {
            s.rf = fieldOf(net, inputShape);
        }
        if (s.exampleShape == null) {
            s.exampleShape = Arrays.copyOfRange(in.shape(), 1, in.rank());
        }
        int n = (int) in.size(0);
        long[] idx = exampleIds(s, in, labels);
        Set<Long> referenced = new HashSet<>();
        Set<CropKey> cropped = new HashSet<>();
        for (int l : layers) {
            TopKSnapshot snap = offer(s, l, activation.apply(l), idx);
            boolean crops = s.rf.cropsSmallerThanInput(l);
            for (int r = 0; r < snap.numUnits(); r++) {
                long[] ex = snap.examples()[r];
                for (int j = 0; j < ex.length; j++) {
                    if (crops) {
                        cropped.add(new CropKey(l, ex[j], snap.ys()[r][j], snap.xs()[r][j]));
                    } else {
                        referenced.add(ex[j]);
                    }
                }
            }
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            s.inputs.keySet().retainAll(referenced);
            s.crops.keySet().retainAll(cropped);
            Map<Long, Integer> rowOf = new HashMap<>();
            for (int i = 0; i < n; i++) {
                rowOf.put(idx[i], i);
                if (referenced.contains(idx[i]) && !s.inputs.containsKey(idx[i])) {
                    s.inputs.put(idx[i], in.get(NDArrayIndex.interval(i, i + 1)).dup());
                }
            }
            Map<Integer, double[]> rowValues = new HashMap<>(); // each needed row read once, crops cut in Java
            for (CropKey key : cropped) {
                Integer i = rowOf.get(key.example());
                if (i != null && !s.crops.containsKey(key)) {
                    double[] row = rowValues.computeIfAbsent(i,
                            r -> in.get(NDArrayIndex.interval(r, r + 1)).dup('c').data().asDouble());
                    s.crops.put(key, s.rf.crop(row, in.dataType(), key.layer(), key.y(), key.x()));
                }
            }
            if (s.probeCount < probeExamples && s.previous.isEmpty()) {
                int take = Math.min(n, probeExamples - s.probeCount);
                s.probeRows.add(in.get(NDArrayIndex.interval(0, take)).dup());
                s.probeCount += take;
            }
        }
    }

    /**
     * The streaming step of a graph with several inputs: examples are named by the content of their joint form
     * ({@link dev.stethoscope.probes.model.GraphInputs}: the inputs flattened and concatenated) and label; per entry,
     * the receptive-field crop in each input the unit sees part of, and the example's joint row when it sees an input
     * whole.
     */
    private void streamInputs(Model net, INDArray[] xs, java.util.function.IntFunction<INDArray> activation,
                              INDArray labels) {
        State s = state();
        if (s.rf == null) {
            s.rf = field(net);
        }
        if (s.exampleShapes == null) {
            s.exampleShapes = new long[xs.length][];
            for (int i = 0; i < xs.length; i++) {
                s.exampleShapes[i] = Arrays.copyOfRange(xs[i].shape(), 1, xs[i].rank());
            }
        }
        INDArray in = dev.stethoscope.probes.model.GraphInputs.joint(xs);
        int n = (int) in.size(0);
        long[] idx = exampleIds(s, in, labels);
        Set<Long> referenced = new HashSet<>();
        Set<CropKey> cropped = new HashSet<>();
        for (int l : layers) {
            TopKSnapshot snap = offer(s, l, activation.apply(l), idx);
            int[] reached = s.rf.inputsOf(l);
            boolean whole = false;
            for (int i : reached) {
                whole |= !s.rf.cropsSmallerThanInput(l, i);
            }
            for (int r = 0; r < snap.numUnits(); r++) {
                long[] ex = snap.examples()[r];
                for (int j = 0; j < ex.length; j++) {
                    for (int i : reached) {
                        if (s.rf.cropsSmallerThanInput(l, i)) {
                            cropped.add(new CropKey(l, ex[j], snap.ys()[r][j], snap.xs()[r][j], i));
                        }
                    }
                    if (whole) {
                        referenced.add(ex[j]);
                    }
                }
            }
        }
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            s.inputs.keySet().retainAll(referenced);
            s.crops.keySet().retainAll(cropped);
            Map<Long, Integer> rowOf = new HashMap<>();
            for (int i = 0; i < n; i++) {
                rowOf.put(idx[i], i);
                if (referenced.contains(idx[i]) && !s.inputs.containsKey(idx[i])) {
                    s.inputs.put(idx[i], in.get(NDArrayIndex.interval(i, i + 1)).dup());
                }
            }
            Map<Long, double[]> rowValues = new HashMap<>(); // (row, input) read once, crops cut in Java
            for (CropKey key : cropped) {
                Integer i = rowOf.get(key.example());
                if (i != null && !s.crops.containsKey(key)) {
                    int input = key.input();
                    double[] row = rowValues.computeIfAbsent((long) i * xs.length + input,
                            r -> xs[input].get(NDArrayIndex.interval(i, i + 1)).dup('c').data().asDouble());
                    s.crops.put(key, s.rf.crop(row, xs[input].dataType(), key.layer(), input, key.y(), key.x()));
                }
            }
            if (s.probeCount < probeExamples && s.previous.isEmpty()) {
                int take = Math.min(n, probeExamples - s.probeCount);
                s.probeRows.add(in.get(NDArrayIndex.interval(0, take)).dup());
                s.probeCount += take;
            }
        }
    }

    /**
     * Every filter of a first layer that is a convolution (all first-layer filters); elsewhere, dense first layers
     * included, {@code unitsPerLayer} evenly spaced units.
     */
    private int[] unitsOf(INDArray a, int layer) {
        int total = (int) a.size(1);
        if ((isFirst(layer) && a.rank() == 4) || total <= unitsPerLayer) {
            return StreamingTopK.range(total);
        }
        int[] u = new int[unitsPerLayer];
        for (int i = 0; i < unitsPerLayer; i++) {
            u[i] = (int) ((long) i * total / unitsPerLayer);
        }
        return u;
    }

    @Override
    public void onEpochEnd(Model model) {
        bind(model);
        epochsSeen++;
        if (schedule.dueAtEpochEnd(epochsSeen) && streamedEpoch == epochsSeen) {
            int epoch = epochsSeen;
            long t0 = System.nanoTime();
            long c0 = threadCpu();
            guard("epoch-end", () -> snapshot(model, epoch));
            snapshotCpuNanos += threadCpu() - c0;
            snapshotNanos += System.nanoTime() - t0;
        }
        streaming = false;
    }

    /**
     * Publishes the last epoch's snapshot when the schedule includes the last epoch and it was not taken yet.
     * Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (schedule.dueAtClose() && epochsSeen > 0 && lastSnapshotEpoch != epochsSeen && streamedEpoch == epochsSeen) {
            int epoch = epochsSeen;
            long t0 = System.nanoTime();
            long c0 = threadCpu();
            guard("close", () -> snapshot(requireModel(), epoch));
            snapshotCpuNanos += threadCpu() - c0;
            snapshotNanos += System.nanoTime() - t0;
        }
        log.info("Feature evolution: {} s streaming top-k in the training passes, {} s taking snapshots",
                String.format(java.util.Locale.ROOT, "%.2f", streamNanos / 1e9),
                String.format(java.util.Locale.ROOT, "%.2f", snapshotNanos / 1e9));
        st = null;
    }

    private void snapshot(Model net, int epoch) {
        // the snapshot's arrays are made outside any workspace the training loop may have open
        try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
            snapshotOutOfWorkspaces(net, epoch);
        }
    }

    private void snapshotOutOfWorkspaces(Model net, int epoch) {
        State s = state();
        lastSnapshotEpoch = epoch;
        if (s.topk.isEmpty()) {
            return;
        }
        if (s.copy == null || s.copy.source() != net) {
            s.copy = NetworkCopy.of(net);
        } else {
            s.copy.refresh();
        }
        Model c = s.copy.model();
        ReceptiveField rf = field(c);
        DeconvProjection deconv = null;
        try {
            deconv = c instanceof ComputationGraph g ? new DeconvProjection(g) : new DeconvProjection((MultiLayerNetwork) c);
        } catch (IllegalArgumentException e) {
            if (!s.deconvWarned) {
                s.deconvWarned = true;
                log.info("Feature evolution: no deconvnet projections for this network ({})", e.getMessage());
            }
        }
        java.util.function.IntFunction<INDArray> probeActs = null;
        if (s.probeCount > 0) {
            INDArray probe = Nd4j.vstack(s.probeRows.toArray(new INDArray[0]));
            if (c instanceof ComputationGraph g) {
                Map<String, INDArray> m = inputShapes != null
                        ? g.feedForward(dev.stethoscope.probes.model.GraphInputs.split(g, probe), false)
                        : g.feedForward(probe, false);
                probeActs = l -> m.get(vertexNames[l]);
            } else {
                List<INDArray> acts = ((MultiLayerNetwork) c).feedForward(probe, false);
                probeActs = l -> acts.get(l + 1);
            }
        }
        List<FeatureSnapshot> out = new ArrayList<>();
        for (int l : layers) {
            StreamingTopK t = s.topk.get(l);
            if (t == null) {
                continue;
            }
            TopKSnapshot snap = t.snapshot();
            TopKSnapshot prev = s.previous.get(l);
            List<FeatureUnit> units = new ArrayList<>();
            // one input: the entries of several units are projected together; several inputs: per unit and input
            List<List<INDArray>> projected = inputShapes != null ? null
                    : rf.cropsSmallerThanInput(l) ? cropProjections(rf, deconv, l, snap)
                    : wholeProjections(deconv, l, snap);
            for (int r = 0; r < snap.numUnits(); r++) {
                units.add(inputShapes != null ? unitOfInputs(c, rf, deconv, l, snap, r, prev)
                        : unit(rf, l, snap, r, prev, projected.get(r)));
            }
            int compared = 0;
            double changed = Double.NaN;
            double overlap = Double.NaN;
            if (prev != null) {
                ExemplarChange.Change ch = ExemplarChange.between(prev, snap);
                compared = ch.comparedUnits();
                changed = ch.changedFraction();
                overlap = ch.meanOverlap();
            }
            s.epochs.computeIfAbsent(l, x -> new ArrayList<>()).add(epoch);
            s.fractions.computeIfAbsent(l, x -> new ArrayList<>()).add(changed);
            int[] ep = s.epochs.get(l).stream().mapToInt(Integer::intValue).toArray();
            double[] fr = s.fractions.get(l).stream().mapToDouble(Double::doubleValue).toArray();
            int settled = ExemplarChange.settledAt(ep, fr).orElse(-1);
            s.previous.put(l, snap);
            var conf = layerConf(c, l);
            INDArray weights = c instanceof ComputationGraph g ? g.getLayer(l).getParam("W")
                    : ((MultiLayerNetwork) c).getLayer(l).getParam("W");
            List<String> reachedNames = new ArrayList<>();
            if (inputShapes != null) {
                for (int i : rf.inputsOf(l)) {
                    reachedNames.add(inputNames.get(i));
                }
            }
            out.add(new FeatureSnapshot(l, conf.getLayerName() == null ? "layer" + l : conf.getLayerName(),
                    conf.getClass().getSimpleName(), epoch, k, units, compared, changed, overlap, settled,
                    isFirst(l) && conf instanceof ConvolutionLayer ? filters(weights) : List.of(),
                    histogram(s.weightBins, l, weights),
                    probeActs == null ? null : histogram(s.activationBins, l, probeActs.apply(l)), reachedNames));
        }
        publishAll(out, currentEpoch(), currentIteration());
        if (projectionLayer >= 0) {
            long t0 = System.nanoTime();
            FeatureProjection p = projection(c, epoch);
            projectionNanos += System.nanoTime() - t0;
            publish(p, currentEpoch(), currentIteration());
        }
    }

    /** The aligned 2-D projection of the projection layer's activations on the fixed probe points, on the copy. */
    private FeatureProjection projection(Model c, int epoch) {
        State s = state();
        int n = projectionClasses.length;
        List<INDArray> parts = new ArrayList<>();
        for (int i = 0; i < n; i += 500) {
            INDArray in = projectionInputs.get(NDArrayIndex.interval(i, Math.min(n, i + 500)));
            parts.add(c instanceof ComputationGraph g ? (inputShapes != null
                    ? g.feedForward(dev.stethoscope.probes.model.GraphInputs.split(g, in), false)
                    : g.feedForward(in, false)).get(vertexNames[projectionLayer])
                    : ((MultiLayerNetwork) c).feedForwardToLayer(projectionLayer, in, false).get(projectionLayer + 1));
        }
        INDArray acts = parts.size() == 1 ? parts.get(0) : Nd4j.concat(0, parts.toArray(new INDArray[0]));
        AlignedPca.Projection cur = AlignedPca.pca2(acts);
        AlignedPca.Projection prev = s.projection;
        double aligned = Double.NaN;
        double unaligned = Double.NaN;
        AlignedPca.Projection out = cur;
        if (prev != null) {
            out = AlignedPca.alignTo(cur, prev);
            aligned = rms(out.points(), prev.points());
            unaligned = rms(cur.points(), prev.points());
        }
        s.projection = out;
        INDArray pts = out.points();
        float[] xs = pts.getColumn(0).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup().data().asFloat();
        float[] ys = pts.getColumn(1).castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup().data().asFloat();
        String name = layerConf(c, projectionLayer).getLayerName();
        return new FeatureProjection(projectionLayer, name == null ? "layer" + projectionLayer : name, epoch, xs, ys,
                projectionClasses.clone(), out.explained().clone(), aligned, unaligned);
    }

    private static double rms(INDArray a, INDArray b) {
        double d = a.sub(b).norm2Number().doubleValue();
        return Math.sqrt(d * d / a.rows());
    }

    /**
     * The deconvnet projections of every kept crop of layer {@code l}'s followed units, per unit (null for a unit whose
     * crops are not all kept, or without a projection): the crops of several units go through the network together,
     * at most {@link #PROJECTION_BATCH} at a time (one forward and backward pass per batch instead of one per unit;
     * each crop's values are those of a call per unit, {@link DeconvProjection#projectCrops(ReceptiveField, long[],
     * int, int[], List, int[], int[])}).
     */
    private List<List<INDArray>> cropProjections(ReceptiveField rf, DeconvProjection deconv, int l, TopKSnapshot snap) {
        State s = state();
        List<List<INDArray>> out = new ArrayList<>(snap.numUnits());
        List<ReceptiveField.Crop> batch = new ArrayList<>();
        List<Integer> units = new ArrayList<>();
        List<Integer> ys = new ArrayList<>();
        List<Integer> xs = new ArrayList<>();
        List<Integer> owner = new ArrayList<>();
        for (int r = 0; r < snap.numUnits(); r++) {
            long[] ex = snap.examples()[r];
            List<ReceptiveField.Crop> kept = new ArrayList<>();
            for (int j = 0; j < ex.length; j++) {
                ReceptiveField.Crop crop = s.crops.get(new CropKey(l, ex[j], snap.ys()[r][j], snap.xs()[r][j]));
                if (crop == null) {
                    break; // cannot happen: the crop of every entry is kept
                }
                kept.add(crop);
            }
            boolean projected = deconv != null && kept.size() == ex.length && ex.length > 0;
            out.add(projected ? new ArrayList<>(ex.length) : null);
            if (!projected) {
                continue;
            }
            if (!batch.isEmpty() && batch.size() + kept.size() > PROJECTION_BATCH) {
                projectBatch(rf, deconv, l, batch, units, ys, xs, owner, out);
            }
            for (int j = 0; j < kept.size(); j++) {
                batch.add(kept.get(j));
                units.add(snap.units()[r]);
                ys.add(snap.ys()[r][j]);
                xs.add(snap.xs()[r][j]);
                owner.add(r);
            }
        }
        if (!batch.isEmpty()) {
            projectBatch(rf, deconv, l, batch, units, ys, xs, owner, out);
        }
        return out;
    }

    private void projectBatch(ReceptiveField rf, DeconvProjection deconv, int l, List<ReceptiveField.Crop> batch,
                              List<Integer> units, List<Integer> ys, List<Integer> xs, List<Integer> owner,
                              List<List<INDArray>> out) {
        List<INDArray> proj = deconv.projectCrops(rf, state().exampleShape, l,
                units.stream().mapToInt(Integer::intValue).toArray(), batch,
                ys.stream().mapToInt(Integer::intValue).toArray(), xs.stream().mapToInt(Integer::intValue).toArray());
        for (int i = 0; i < proj.size(); i++) {
            out.get(owner.get(i)).add(proj.get(i));
        }
        batch.clear();
        units.clear();
        ys.clear();
        xs.clear();
        owner.clear();
    }

    /**
     * As {@link #cropProjections} for a layer whose units see the whole input: the kept input rows of several units'
     * entries go through the network together, at most {@link #PROJECTION_BATCH} at a time; per unit, each entry's
     * projection as {@code [c, h, w]} (null for a unit whose rows are not all kept, or without a projection).
     */
    private List<List<INDArray>> wholeProjections(DeconvProjection deconv, int l, TopKSnapshot snap) {
        State s = state();
        List<List<INDArray>> out = new ArrayList<>(snap.numUnits());
        List<INDArray> batch = new ArrayList<>();
        List<Integer> units = new ArrayList<>();
        List<Integer> ys = new ArrayList<>();
        List<Integer> xs = new ArrayList<>();
        List<Integer> owner = new ArrayList<>();
        for (int r = 0; r < snap.numUnits(); r++) {
            long[] ex = snap.examples()[r];
            List<INDArray> rows = new ArrayList<>();
            for (long e : ex) {
                INDArray row = s.inputs.get(e);
                if (row == null) {
                    break; // cannot happen: every referenced input is kept
                }
                rows.add(row);
            }
            boolean projected = deconv != null && rows.size() == ex.length && ex.length > 0;
            out.add(projected ? new ArrayList<>(ex.length) : null);
            if (!projected) {
                continue;
            }
            if (!batch.isEmpty() && batch.size() + rows.size() > PROJECTION_BATCH) {
                projectRows(deconv, l, batch, units, ys, xs, owner, out);
            }
            for (int j = 0; j < rows.size(); j++) {
                batch.add(rows.get(j));
                units.add(snap.units()[r]);
                ys.add(snap.ys()[r][j]);
                xs.add(snap.xs()[r][j]);
                owner.add(r);
            }
        }
        if (!batch.isEmpty()) {
            projectRows(deconv, l, batch, units, ys, xs, owner, out);
        }
        return out;
    }

    private void projectRows(DeconvProjection deconv, int l, List<INDArray> batch, List<Integer> units, List<Integer> ys,
                             List<Integer> xs, List<Integer> owner, List<List<INDArray>> out) {
        INDArray proj = deconv.project(Nd4j.vstack(batch.toArray(new INDArray[0])), l,
                units.stream().mapToInt(Integer::intValue).toArray(), ys.stream().mapToInt(Integer::intValue).toArray(),
                xs.stream().mapToInt(Integer::intValue).toArray());
        for (int i = 0; i < batch.size(); i++) {
            INDArray p = proj.get(NDArrayIndex.point(i));
            if (p.rank() != 3) {
                p = p.reshape(inputShape[0], inputShape[1], inputShape[2]);
            }
            out.get(owner.get(i)).add(p);
        }
        batch.clear();
        units.clear();
        ys.clear();
        xs.clear();
        owner.clear();
    }

    private FeatureUnit unit(ReceptiveField rf, int l, TopKSnapshot snap, int r, TopKSnapshot prev,
                             List<INDArray> projected) {
        State s = state();
        long[] ex = snap.examples()[r];
        int[] ys = snap.ys()[r];
        int[] xs = snap.xs()[r];
        int m = ex.length;
        List<FeatureImage> crops = new ArrayList<>();
        List<FeatureImage> projections = new ArrayList<>();
        List<INDArray> rows = new ArrayList<>();
        if (rf.cropsSmallerThanInput(l)) {
            List<ReceptiveField.Crop> kept = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                ReceptiveField.Crop crop = s.crops.get(new CropKey(l, ex[j], ys[j], xs[j]));
                if (crop == null) {
                    break; // cannot happen: the crop of every entry is kept
                }
                kept.add(crop);
                crops.add(image(crop.pixels(), crop.clipped()));
            }
            if (projected != null && kept.size() == m) {
                for (int j = 0; j < m; j++) {
                    projections.add(image(projected.get(j), kept.get(j).clipped()));
                }
            }
            return unitRecord(snap, r, prev, crops, projections);
        }
        for (int j = 0; j < m; j++) {
            INDArray row = s.inputs.get(ex[j]);
            if (row == null) {
                break; // cannot happen: every referenced input is kept
            }
            rows.add(row);
            ReceptiveField.Crop crop = rf.crop(row, l, ys[j], xs[j]);
            crops.add(image(crop.pixels(), crop.clipped()));
        }
        if (projected != null && rows.size() == m) {
            for (int j = 0; j < m; j++) {
                ReceptiveField.Window w = rf.crop(rows.get(j), l, ys[j], xs[j]).clipped();
                INDArray p = projected.get(j);
                INDArray cut = p.get(NDArrayIndex.all(), NDArrayIndex.interval(w.y0(), w.y1() + 1),
                        NDArrayIndex.interval(w.x0(), w.x1() + 1));
                projections.add(image(cut, w));
            }
        }
        return unitRecord(snap, r, prev, crops, projections);
    }

    /**
     * One unit of a graph with several inputs: per input that reaches it, each entry's crop (the whole input where
     * the unit sees all of it) and deconvnet projection into that input ({@link DeconvProjection#projectParts}).
     */
    private FeatureUnit unitOfInputs(Model c, ReceptiveField rf, DeconvProjection deconv, int l, TopKSnapshot snap,
                                     int r, TopKSnapshot prev) {
        State s = state();
        long[] ex = snap.examples()[r];
        int[] ys = snap.ys()[r];
        int[] xs = snap.xs()[r];
        int m = ex.length;
        int[] reached = rf.inputsOf(l);
        int ni = rf.numInputs();
        List<DeconvProjection.Part[]> parts = new ArrayList<>();
        for (int j = 0; j < m; j++) {
            DeconvProjection.Part[] p = new DeconvProjection.Part[ni];
            INDArray[] whole = null;
            boolean complete = true;
            for (int i : reached) {
                if (rf.cropsSmallerThanInput(l, i)) {
                    ReceptiveField.Crop crop = s.crops.get(new CropKey(l, ex[j], ys[j], xs[j], i));
                    complete &= crop != null;
                    p[i] = new DeconvProjection.Part(crop, null);
                } else {
                    if (whole == null) {
                        INDArray row = s.inputs.get(ex[j]);
                        if (row == null) {
                            complete = false;
                            break;
                        }
                        whole = splitRow(row, s.exampleShapes);
                    }
                    p[i] = new DeconvProjection.Part(null, whole[i]);
                }
            }
            if (!complete) {
                break; // cannot happen: what every entry needs is kept
            }
            parts.add(p);
        }
        List<INDArray[]> proj = null;
        if (deconv != null && parts.size() == m && m > 0) {
            proj = deconv.projectParts(rf, s.exampleShapes, l, snap.units()[r], parts, ys, xs);
        }
        List<List<FeatureImage>> crops = new ArrayList<>();
        List<List<FeatureImage>> projections = new ArrayList<>();
        for (int q = 0; q < reached.length; q++) {
            int i = reached[q];
            List<FeatureImage> ci = new ArrayList<>();
            List<FeatureImage> pi = new ArrayList<>();
            for (int j = 0; j < parts.size(); j++) {
                DeconvProjection.Part part = parts.get(j)[i];
                ReceptiveField.Crop crop = part.crop() != null ? part.crop()
                        : rf.crop(part.whole(), l, i, ys[j], xs[j]);
                ci.add(image(crop.pixels(), crop.clipped()));
                if (proj != null) {
                    pi.add(image(proj.get(j)[i], crop.clipped()));
                }
            }
            crops.add(ci);
            projections.add(pi);
        }
        List<FeatureSnapshot.InputImages> others = new ArrayList<>();
        for (int q = 1; q < reached.length; q++) {
            others.add(new FeatureSnapshot.InputImages(inputNames.get(reached[q]), crops.get(q), projections.get(q)));
        }
        FeatureUnit base = unitRecord(snap, r, prev, crops.get(0), projections.get(0));
        return new FeatureUnit(base.unit(), base.values(), base.examples(), base.ys(), base.xs(), base.top1Changed(),
                base.crops(), base.projections(), inputNames.get(reached[0]), others);
    }

    /** One joint row split into one example of each input, each {@code [1, ...]} as the graph takes it. */
    private static INDArray[] splitRow(INDArray row, long[][] exampleShapes) {
        long[][] shapes = new long[exampleShapes.length][];
        for (int i = 0; i < shapes.length; i++) {
            shapes[i] = new long[exampleShapes[i].length + 1];
            shapes[i][0] = 1;
            System.arraycopy(exampleShapes[i], 0, shapes[i], 1, exampleShapes[i].length);
        }
        return dev.stethoscope.probes.model.GraphInputs.split(row, shapes);
    }

    private static FeatureUnit unitRecord(TopKSnapshot snap, int r, TopKSnapshot prev, List<FeatureImage> crops,
                                          List<FeatureImage> projections) {
        long[] ex = snap.examples()[r];
        int m = ex.length;
        boolean changed = false;
        if (prev != null) {
            int pr = prev.rowOf(snap.units()[r]);
            changed = pr >= 0 && m > 0 && prev.top1(pr) != snap.top1(r);
        }
        return new FeatureUnit(snap.units()[r], snap.values()[r].clone(), ex.clone(), snap.ys()[r].clone(),
                snap.xs()[r].clone(), changed, crops, projections);
    }

    private static FeatureImage image(INDArray chw, ReceptiveField.Window w) {
        long[] sh = chw.shape();
        float[] px = chw.dup('c').castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).data().asFloat();
        return new FeatureImage((int) sh[0], (int) sh[1], (int) sh[2], w.y0(), w.x0(), px);
    }

    private static List<FeatureImage> filters(INDArray w) {
        if (w == null || w.rank() != 4) {
            return List.of();
        }
        // one copy of all filters read in Java (indexing one filter of a graph's parameter view inside
        // ComputationGraph.fit's epoch end gave empty arrays)
        int n = (int) w.size(0);
        int c = (int) w.size(1);
        int kh = (int) w.size(2);
        int kw = (int) w.size(3);
        float[] all = w.castTo(org.nd4j.linalg.api.buffer.DataType.FLOAT).dup('c').data().asFloat();
        int per = c * kh * kw;
        List<FeatureImage> out = new ArrayList<>();
        for (int f = 0; f < n; f++) {
            out.add(new FeatureImage(c, kh, kw, 0, 0, Arrays.copyOfRange(all, f * per, (f + 1) * per)));
        }
        return out;
    }

    private FeatureHistogram histogram(Map<Integer, FixedBinHistogram> fixed, int l, INDArray values) {
        if (values == null) {
            return null;
        }
        FixedBinHistogram h = fixed.get(l);
        if (h == null) {
            h = FixedBinHistogram.rangeOf(values, bins, FixedBinHistogram.DEFAULT_MARGIN);
            fixed.put(l, h);
        }
        FixedBinHistogram now = h.emptyCopy();
        now.add(values);
        FixedBinHistogram.Counts cnt = now.counts();
        return new FeatureHistogram(cnt.lo(), cnt.hi(), cnt.bins(), cnt.underflow(), cnt.overflow(), cnt.nan());
    }

    /** Builds a {@link FeatureEvolutionListener}. */
    public static final class Builder extends StethoscopeListener.Builder<Builder, FeatureEvolutionListener> {
        private String[] layerSpec;
        private int k = StreamingTopK.DEFAULT_K;
        private int unitsPerLayer = 16;
        private int probeExamples = 256;
        private int bins = FixedBinHistogram.DEFAULT_BINS;
        private int[] inputShape;
        private String projectionLayerSpec;
        private int projectionPoints = 2000;
        private DataSet projectionData;

        private Builder(Model net, StatsStorageRouter router) {
            super(net, router);
        }

        Model net() {
            return model;
        }

        /**
         * The layers to follow, by name or DL4J index (convolution, pooling or dense layers before the output layer);
         * default every convolution and dense layer. Pooling layers are left out by default: a max-pooling unit's
         * maximum over all positions is (up to positions a truncating pool drops) the preceding convolution unit's,
         * so its top-k repeats that layer's at the cost of larger crops.
         */
        public Builder layers(String... layers) {
            this.layerSpec = layers.clone();
            return this;
        }

        /** Entries kept per unit (default 9, as in the paper). */
        public Builder k(int k) {
            this.k = k;
            return this;
        }

        /**
         * Units followed per layer, evenly spaced over the layer's channels (convolution, pooling) or neurons
         * (dense); default 16. A first layer that is a convolution always follows every filter (all first-layer
         * filters).
         */
        public Builder unitsPerLayer(int n) {
            this.unitsPerLayer = n;
            return this;
        }

        /** Training examples kept as the fixed probe set of the activation histograms (default 256; 0: none). */
        public Builder probeExamples(int n) {
            this.probeExamples = n;
            return this;
        }

        /** Histogram bins (default 64). */
        public Builder bins(int bins) {
            this.bins = bins;
            return this;
        }

        /**
         * The input geometry {@code channels, height, width}; needed when the network does not start with the
         * FeedForwardToCnn preprocessor of {@code InputType.convolutionalFlat}: required when its first layer is a
         * convolution or pooling layer fed {@code [n, c, h, w]} (e.g. {@code InputType.convolutional}), whose
         * configuration does not say h and w; for a dense first layer a flat input of a square number of values is
         * otherwise taken as one square channel, any other as one row.
         */
        public Builder inputShape(int channels, int height, int width) {
            this.inputShape = new int[]{channels, height, width};
            return this;
        }

        /**
         * Labelled held-out examples for the 2-D projection (their first {@link #projectionPoints} rows, features as
         * the network takes them, labels one-hot or one class column); without them no projection is made.
         */
        public Builder projectionData(DataSet heldOut) {
            this.projectionData = heldOut;
            return this;
        }

        /** Probe points of the 2-D projection (default 2000, or as many as the projection data has; 0: none). */
        public Builder projectionPoints(int n) {
            this.projectionPoints = n;
            return this;
        }

        /**
         * The layer of the 2-D projection, by name or DL4J index (a convolution, pooling or dense layer before the
         * output); default the last followed layer.
         */
        public Builder projectionLayer(String layer) {
            this.projectionLayerSpec = layer;
            return this;
        }

        Schedule resolvedSchedule() {
            return scheduleOr(DEFAULT_SCHEDULE, Schedule.Kind.EPOCH_LIST, Schedule.Kind.EPOCHS);
        }

        @Override
        public FeatureEvolutionListener build() {
            Object[] v = validate();
            return new FeatureEvolutionListener(this, (int[]) v[0], (int[]) v[1], (int) v[2], (int[][]) v[3]);
        }

        /** Checks the configuration against the model; returns {chosen layers, input shape, projection layer}. */
        Object[] validate() {
            resolvedSchedule();
            if (projectionPoints < 0) {
                throw new IllegalArgumentException("FeatureEvolutionListener: projectionPoints (" + projectionPoints
                        + ") must be >= 0");
            }
            if (k < 1 || unitsPerLayer < 1 || probeExamples < 0 || bins < 1) {
                throw new IllegalArgumentException("FeatureEvolutionListener: k (" + k + ") and unitsPerLayer ("
                        + unitsPerLayer + ") and bins (" + bins + ") must be >= 1, probeExamples (" + probeExamples
                        + ") >= 0");
            }
            boolean graph = model instanceof ComputationGraph;
            boolean several = false;
            if (graph) {
                ComputationGraph g = (ComputationGraph) model;
                if (g.getConfiguration().getNetworkOutputs().size() != 1) {
                    throw new IllegalArgumentException("FeatureEvolutionListener: supports ComputationGraphs with one "
                            + "output; this one has outputs " + g.getConfiguration().getNetworkOutputs());
                }
                several = g.getConfiguration().getNetworkInputs().size() > 1;
            }
            String outputVertex = graph ? ((ComputationGraph) model).getConfiguration().getNetworkOutputs().get(0) : null;
            int nLayers = numLayers(model);
            List<String> names = new ArrayList<>();
            List<Integer> eligible = new ArrayList<>();
            List<Integer> byDefault = new ArrayList<>();
            for (int i = 0; i < nLayers; i++) {
                var conf = layerConf(model, i);
                names.add(graph ? "'" + conf.getLayerName() + "' (" + conf.getClass().getSimpleName() + ")"
                        : i + ":" + conf.getLayerName() + " (" + conf.getClass().getSimpleName() + ")");
                boolean kind = conf instanceof ConvolutionLayer || conf instanceof SubsamplingLayer
                        || conf instanceof DenseLayer;
                boolean beforeOutput = graph ? !conf.getLayerName().equals(outputVertex) : i < nLayers - 1;
                if (kind && !(conf instanceof BaseOutputLayer) && beforeOutput) {
                    eligible.add(i);
                    if (!(conf instanceof SubsamplingLayer)) {
                        byDefault.add(i);
                    }
                }
            }
            int[] chosen;
            if (layerSpec == null) {
                chosen = byDefault.stream().mapToInt(Integer::intValue).toArray();
            } else {
                chosen = new int[layerSpec.length];
                for (int j = 0; j < layerSpec.length; j++) {
                    int found = -1;
                    for (int i : eligible) {
                        String nm = layerConf(model, i).getLayerName();
                        if (layerSpec[j].equals(nm) || layerSpec[j].equals(String.valueOf(i))) {
                            found = i;
                        }
                    }
                    if (found < 0) {
                        List<String> valid = new ArrayList<>();
                        for (int i : eligible) {
                            valid.add(names.get(i));
                        }
                        throw new IllegalArgumentException("FeatureEvolutionListener: layer '" + layerSpec[j]
                                + "' is not a convolution, pooling or dense layer before the output; valid"
                                + (graph ? " vertex names: " : ": ") + valid);
                    }
                    chosen[j] = found;
                }
                chosen = Arrays.stream(chosen).distinct().sorted().toArray();
            }
            if (chosen.length == 0) {
                throw new IllegalArgumentException("FeatureEvolutionListener: no convolution, pooling or dense layer "
                        + "to follow; layers: " + names);
            }
            int[][] shapes = null;
            if (several) {
                ComputationGraph g = (ComputationGraph) model;
                if (inputShape != null) {
                    throw new IllegalArgumentException("FeatureEvolutionListener: inputShape(c, h, w) is for networks with "
                            + "one input; this graph has inputs " + g.getConfiguration().getNetworkInputs() + ", whose "
                            + "geometries are read from the configuration (InputType.convolutionalFlat, or a dense layer)");
                }
                dev.stethoscope.probes.model.GraphInputs.checkJointForm(g, "FeatureEvolutionListener",
                        projectionData == null ? null : projectionData.getFeatures());
                shapes = graphInputShapes(g);
            }
            int[] shape = shapes != null ? shapes[0] : inputShape;
            if (shape == null) {
                int[] known = graph ? ReceptiveField.inputShapeOf((ComputationGraph) model) : null;
                if (!graph) {
                    try {
                        known = ReceptiveField.of((MultiLayerNetwork) model).inputShape();
                    } catch (IllegalArgumentException e) {
                        known = null;
                    }
                }
                shape = known;
            }
            if (shape == null) {
                int first = firstLayer(model);
                var firstConf = layerConf(model, first);
                if (firstConf instanceof ConvolutionLayer || firstConf instanceof SubsamplingLayer) {
                    throw new IllegalArgumentException("FeatureEvolutionListener: the network's first layer ("
                            + names.get(first) + ") takes images whose height and width are not in the configuration "
                            + "(no FeedForwardToCnn preprocessor, as InputType.convolutionalFlat sets up); call "
                            + "inputShape(channels, height, width)");
                }
                int nIn = graph ? (int) ((org.deeplearning4j.nn.conf.layers.FeedForwardLayer) firstConf).getNIn()
                        : (int) ((MultiLayerNetwork) model).layerInputSize(0);
                int side = (int) Math.round(Math.sqrt(nIn));
                // a square number of inputs is taken as one square channel, anything else as one row
                shape = (long) side * side == nIn ? new int[]{1, side, side} : new int[]{1, 1, nIn};
            }
            if (shapes != null) {
                ReceptiveField.of((ComputationGraph) model, shapes); // refuses unsupported vertices here, naming them
            } else {
                fieldOf(model, shape); // refuses unsupported layers and vertices here, naming them
            }
            int projection = -1;
            if (projectionData != null && projectionPoints > 0) {
                if (projectionData.numExamples() < 3) {
                    throw new IllegalArgumentException("FeatureEvolutionListener: projectionData needs at least 3 "
                            + "examples, got " + projectionData.numExamples());
                }
                if (projectionLayerSpec == null) {
                    projection = chosen[chosen.length - 1];
                } else {
                    for (int i : eligible) {
                        String nm = layerConf(model, i).getLayerName();
                        if (projectionLayerSpec.equals(nm) || projectionLayerSpec.equals(String.valueOf(i))) {
                            projection = i;
                        }
                    }
                    if (projection < 0) {
                        List<String> valid = new ArrayList<>();
                        for (int i : eligible) {
                            valid.add(names.get(i));
                        }
                        throw new IllegalArgumentException("FeatureEvolutionListener: projection layer '"
                                + projectionLayerSpec + "' is not a convolution, pooling or dense layer before the "
                                + "output; valid: " + valid);
                    }
                }
            } else if (projectionLayerSpec != null) {
                throw new IllegalArgumentException("FeatureEvolutionListener: projectionLayer('" + projectionLayerSpec
                        + "') needs projectionData(heldOut) and projectionPoints > 0");
            }
            return new Object[]{chosen, shape, projection, shapes};
        }
    }
}
