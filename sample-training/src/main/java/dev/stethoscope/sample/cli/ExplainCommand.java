package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.attribution.Attribution;
import dev.stethoscope.probes.attribution.Attributor;
import dev.stethoscope.probes.attribution.Attributors;
import dev.stethoscope.probes.attribution.IntegratedGradients;
import dev.stethoscope.probes.attribution.LogitNetwork;
import dev.stethoscope.probes.model.NetworkCopy;
import dev.stethoscope.sample.data.DataConversion;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import org.deeplearning4j.nn.conf.InputPreProcessor;
import org.deeplearning4j.nn.conf.layers.FeedForwardLayer;
import org.deeplearning4j.nn.conf.preprocessor.FeedForwardToCnnPreProcessor;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Explains one example of an IDX data set with a saved model: writes a PNG (input, heatmap with diverging
 * colours, overlay) and the raw relevance map as a .npy file next to it.
 */
@Command(name = "explain", mixinStandardHelpOptions = true,
        description = "Relevance heatmap of one example for a model saved with DL4J's ModelSerializer.")
public final class ExplainCommand implements Callable<Integer> {
    @Option(names = "--model", required = true,
            description = "Model zip written by ModelSerializer (MultiLayerNetwork, or a ComputationGraph with one output and one or more flat inputs, e.g. --model twoview: the image is split into its inputs, the map joined back).")
    File model;

    @Option(names = "--data", required = true, description = "Folder with the four IDX files (MNIST layout).")
    Path data;

    @Option(names = "--split", defaultValue = "test", description = "test or train (default: ${DEFAULT-VALUE}).")
    String split;

    @Option(names = "--index", required = true, description = "Index of the example in the split.")
    int index;

    @Option(names = "--method", defaultValue = "ig",
            description = "Method: ${COMPLETION-CANDIDATES} (default: ${DEFAULT-VALUE}).", completionCandidates = MethodNames.class)
    String method;

    @Option(names = "--steps", defaultValue = "50", description = "IG steps (default: ${DEFAULT-VALUE}).")
    int steps;

    @Option(names = "--ig-rule", defaultValue = "RIEMANN_RIGHT",
            description = "IG rule: RIEMANN_LEFT, RIEMANN_RIGHT, RIEMANN_MIDDLE, TRAPEZOID, GAUSS_LEGENDRE.")
    String igRule;

    @Option(names = "--target", defaultValue = "-1", description = "Class to explain (default: the predicted class).")
    int target;

    @Option(names = "--out", required = true, description = "Output PNG; the raw map goes to the same name with .npy.")
    File out;

    @Option(names = "--scale", defaultValue = "8", description = "Pixels per input pixel in the PNG (default: ${DEFAULT-VALUE}).")
    int scale;

    /** Valid method names for the help text. */
    static final class MethodNames extends java.util.ArrayList<String> {
        MethodNames() {
            super(Attributors.NAMES);
        }
    }

    @Override
    public Integer call() throws Exception {
        Checks.inRange("--scale", scale, 1, 64);
        Checks.inRange("--steps", steps, 1, 100_000);
        Checks.atLeast("--index", index, 0);
        Checks.atLeast("--target", target, -1);
        String m = method.trim().toLowerCase(Locale.ROOT);
        if (!Attributors.NAMES.contains(m)) {
            throw new IllegalArgumentException("Unknown method '" + method + "'. Valid: " + String.join(", ", Attributors.NAMES));
        }
        if (!model.isFile()) {
            throw new IllegalArgumentException("No such model file: " + model + " (give a zip written by ModelSerializer)");
        }
        Model net = restore(model);
        Example ex = loadExample(data, split, index);
        long expected = expectedInputs(net);
        if (expected > 0 && expected != (long) ex.rows * ex.cols) {
            throw new IllegalArgumentException("Wrong input shape: the model takes " + expected + " values per example, "
                    + "the data's images are " + ex.rows + "x" + ex.cols + " = " + (ex.rows * ex.cols));
        }
        LogitNetwork ln = new LogitNetwork(NetworkCopy.of(net));
        int t = target;
        if (t < 0) {
            t = (ln.inputNames().size() > 1
                    ? ln.logits(dev.stethoscope.probes.model.GraphInputs.split((ComputationGraph) net, ex.x), 1)
                    : ln.logits(ex.x, 1)).argMax(1).getInt(0);
        } else if (t >= ln.numClasses()) {
            throw new IllegalArgumentException("--target " + t + " out of range: valid 0.." + (ln.numClasses() - 1));
        }
        Attributors.Options o = Attributors.Options.defaults().withSteps(steps);
        o = new Attributors.Options(o.batchSize(), o.steps(), IntegratedGradients.Rule.parse(igRule), o.epsilon(),
                o.baseline(), o.gradcamLayer(), o.patch(), o.stride(), o.fill(), o.noiseLevel(), o.samples(), o.seed());
        Attributor a = Attributors.create(m, ln, o);
        INDArray map;
        double score;
        double[] gap;
        if (ln.inputNames().size() > 1) {
            // several inputs: the image is the joint form of the inputs (e.g. twoview's top and bottom halves)
            if (!Attributors.MULTI_INPUT.contains(m)) {
                throw new IllegalArgumentException("Method '" + m + "' explains graphs with one input; this one has inputs "
                        + ln.inputNames() + ". Valid for several inputs: " + String.join(", ", Attributors.MULTI_INPUT));
            }
            ComputationGraph g = (ComputationGraph) net;
            dev.stethoscope.probes.attribution.InputAttributions ia = a.attributeInputs(
                    dev.stethoscope.probes.model.GraphInputs.split(g, ex.x), new int[]{t});
            INDArray[] maps = ia.maps().toArray(new INDArray[0]);
            map = dev.stethoscope.probes.model.GraphInputs.joint(maps).castTo(DataType.FLOAT).reshape('c', ex.rows, ex.cols);
            StringBuilder per = new StringBuilder();
            for (int i = 0; i < maps.length; i++) {
                per.append(i == 0 ? "" : ", ").append(ia.inputs().get(i)).append(String.format(Locale.ROOT, " %.4f",
                        maps[i].sumNumber().doubleValue()));
            }
            System.out.println("Relevance per input (sum): " + per);
            score = ia.targetScores()[0];
            gap = ia.completenessGap();
        } else {
            Attribution r = a.attribute(ex.x, new int[]{t});
            map = r.maps().castTo(DataType.FLOAT).reshape('c', ex.rows, ex.cols);
            score = r.targetScores()[0];
            gap = r.hasCompletenessGap() ? r.completenessGap() : null;
        }
        writePng(ex.x.reshape('c', ex.rows, ex.cols), map, out, scale);
        File npy = npyFile(out);
        Nd4j.writeAsNumpy(map, npy);
        System.out.printf(Locale.ROOT, "%s of example %d (label %d), class %d, f_c(x) = %.4f%s%n", a.name(), index,
                ex.label, t, score, gap != null && gap.length > 0 && !Double.isNaN(gap[0])
                        ? String.format(Locale.ROOT, ", completeness gap %.3g", gap[0]) : "");
        System.out.println("Wrote " + out + " and " + npy);
        return 0;
    }

    /** One example: features [1, rows*cols] in [0, 1], its label and geometry. */
    record Example(INDArray x, int label, int rows, int cols) {
    }

    /** Data access: the example {@code index} of a split of the IDX folder. */
    static Example loadExample(Path dir, String split, int index) throws IOException {
        MnistData d = MnistData.read(dir);
        LabeledImages li = switch (split.trim().toLowerCase(Locale.ROOT)) {
            case "test" -> d.test();
            case "train" -> d.train();
            default -> throw new IllegalArgumentException("Unknown split '" + split + "'. Valid: test, train");
        };
        if (index < 0 || index >= li.size()) {
            throw new IllegalArgumentException("--index " + index + " out of range: the " + split + " split has "
                    + li.size() + " examples (valid 0.." + (li.size() - 1) + ")");
        }
        INDArray x = DataConversion.features(li.images(), index, index + 1);
        return new Example(x, li.labelValues()[index], li.rows(), li.cols());
    }

    /**
     * The network in a ModelSerializer zip: a MultiLayerNetwork or a ComputationGraph (told apart by the
     * configuration the zip holds), without its updater state.
     *
     * @throws IllegalArgumentException if the file holds neither, or a graph with several outputs
     */
    static Model restore(File file) {
        boolean graph;
        try (java.util.zip.ZipFile zip = new java.util.zip.ZipFile(file)) {
            java.util.zip.ZipEntry conf = zip.getEntry("configuration.json");
            if (conf == null) {
                throw new IllegalArgumentException("Cannot read " + file + ": not a model zip written by ModelSerializer "
                        + "(no configuration.json)");
            }
            String json = new String(zip.getInputStream(conf).readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
            graph = json.contains("\"networkInputs\"") && json.contains("\"vertices\"");
        } catch (IOException e) {
            throw new IllegalArgumentException("Cannot read " + file + " as a model zip written by ModelSerializer: "
                    + e.getMessage(), e);
        }
        try {
            if (!graph) {
                return ModelSerializer.restoreMultiLayerNetwork(file, false);
            }
            ComputationGraph g = ModelSerializer.restoreComputationGraph(file, false);
            var c = g.getConfiguration();
            if (c.getNetworkOutputs().size() != 1) {
                throw new IllegalArgumentException("explain takes one image per example: the ComputationGraph in " + file
                        + " has inputs " + c.getNetworkInputs() + " and outputs " + c.getNetworkOutputs()
                        + " (supported: one output)");
            }
            return g;
        } catch (IOException | RuntimeException e) {
            if (e instanceof IllegalArgumentException iae && iae.getMessage() != null
                    && iae.getMessage().startsWith("explain takes")) {
                throw iae;
            }
            throw new IllegalArgumentException("Cannot read " + file + " as a " + (graph ? "ComputationGraph" : "MultiLayerNetwork")
                    + " saved by ModelSerializer: " + e.getMessage(), e);
        }
    }

    /** Values per example the network takes (0 if unknown). */
    static long expectedInputs(Model model) {
        if (model instanceof ComputationGraph g && g.getConfiguration().getNetworkInputs().size() > 1) {
            try {
                return java.util.Arrays.stream(dev.stethoscope.probes.model.GraphInputs.inputSizes(g)).sum();
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("explain splits the image into the graph's inputs "
                        + g.getConfiguration().getNetworkInputs() + ", which must be flat: " + e.getMessage(), e);
            }
        }
        if (model instanceof ComputationGraph g) {
            String in = g.getConfiguration().getNetworkInputs().get(0);
            for (var e : g.getConfiguration().getVertexInputs().entrySet()) {
                if (e.getValue().contains(in) && g.getConfiguration().getVertices().get(e.getKey())
                        instanceof org.deeplearning4j.nn.conf.graph.LayerVertex lv) {
                    if (lv.getPreProcessor() instanceof FeedForwardToCnnPreProcessor f) {
                        return f.getNumChannels() * f.getInputHeight() * f.getInputWidth();
                    }
                    if (lv.getLayerConf().getLayer() instanceof FeedForwardLayer ff) {
                        return ff.getNIn();
                    }
                }
            }
            return 0;
        }
        MultiLayerNetwork net = (MultiLayerNetwork) model;
        InputPreProcessor pp = net.getLayerWiseConfigurations().getInputPreProcess(0);
        if (pp instanceof FeedForwardToCnnPreProcessor f) {
            return f.getNumChannels() * f.getInputHeight() * f.getInputWidth();
        }
        if (net.getLayer(0).conf().getLayer() instanceof FeedForwardLayer ff) {
            return ff.getNIn();
        }
        return 0;
    }

    static File npyFile(File png) {
        String n = png.getName();
        int dot = n.lastIndexOf('.');
        String base = dot > 0 ? n.substring(0, dot) : n;
        return new File(png.getAbsoluteFile().getParentFile(), base + ".npy");
    }

    /** Input (grey), heatmap (blue negative, white 0, red positive; symmetric scale) and overlay, side by side. */
    static void writePng(INDArray input, INDArray map, File file, int scale) throws IOException {
        int h = (int) input.size(0);
        int w = (int) input.size(1);
        int s = Math.max(1, scale);
        double maxAbs = Math.max(1e-12, map.amaxNumber().doubleValue());
        double inMax = Math.max(1e-12, input.maxNumber().doubleValue());
        BufferedImage img = new BufferedImage(3 * w * s + 2 * s, h * s, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                double g = Math.min(1, Math.max(0, input.getDouble(y, x) / inMax));
                double v = map.getDouble(y, x) / maxAbs;
                int grey = (int) Math.round(255 * g);
                int[] heat = diverging(v);
                double alpha = Math.min(1, Math.abs(v));
                int[] over = new int[3];
                for (int k = 0; k < 3; k++) {
                    over[k] = (int) Math.round((1 - alpha) * grey + alpha * heat[k]);
                }
                for (int dy = 0; dy < s; dy++) {
                    for (int dx = 0; dx < s; dx++) {
                        img.setRGB(x * s + dx, y * s + dy, rgb(grey, grey, grey));
                        img.setRGB(w * s + s + x * s + dx, y * s + dy, rgb(heat[0], heat[1], heat[2]));
                        img.setRGB(2 * (w * s + s) + x * s + dx, y * s + dy, rgb(over[0], over[1], over[2]));
                    }
                }
            }
        }
        File parent = file.getAbsoluteFile().getParentFile();
        if (parent != null) {
            parent.mkdirs();
        }
        if (!ImageIO.write(img, "png", file)) {
            throw new IOException("No PNG writer available");
        }
    }

    /** v in [-1, 1] to RGB: blue (-1) - white (0) - red (+1). */
    static int[] diverging(double v) {
        double a = Math.min(1, Math.abs(v));
        int fade = (int) Math.round(255 * (1 - a));
        return v >= 0 ? new int[]{255, fade, fade} : new int[]{fade, fade, 255};
    }

    private static int rgb(int r, int g, int b) {
        return (r << 16) | (g << 8) | b;
    }
}
