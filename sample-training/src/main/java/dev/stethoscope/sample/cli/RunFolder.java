package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.data.LabelNoise;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.util.ModelSerializer;

import java.io.File;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The {@code train} command's run folder and its rules: a folder that already holds a run (a
 * {@code stats.dl4j}, {@code model.zip}, checkpoint or {@code flipped-labels.txt}) is never
 * reused silently. {@code --resume} continues that run (its saved model, its stats file and
 * session, the same label noise); {@code --force} deletes the run's files first. Everything here
 * is checked before the command writes anything.
 */
final class RunFolder {
    static final String STATS = "stats.dl4j";
    static final String MODEL = "model.zip";
    /** The flags that define a run's data and model, written at its start and checked by {@code --resume}. */
    static final String SETTINGS = "run-settings.properties";
    private static final Pattern CHECKPOINT = Pattern.compile("checkpoint-epoch-(\\d+)\\.zip");

    private final Path dir;
    private final List<Path> runFiles;

    private RunFolder(Path dir, List<Path> runFiles) {
        this.dir = dir;
        this.runFiles = runFiles;
    }

    /**
     * Checks {@code dir} against the flags.
     *
     * @throws IllegalArgumentException if it is a file, holds a run and neither flag is given, or
     *                                  {@code --resume} is given and it holds no run to resume
     */
    static RunFolder check(Path dir, boolean resume, boolean force) throws IOException {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException("--out " + dir + " is a file, not a folder");
        }
        List<Path> files = runFiles(dir);
        if (!files.isEmpty() && !resume && !force) {
            throw new IllegalArgumentException("The run folder " + dir + " already holds a run (" + names(files)
                    + "). Choose another --out, add --resume to continue that run, or --force to delete its files and "
                    + "start afresh.");
        }
        if (resume && files.isEmpty()) {
            throw new IllegalArgumentException("--resume: " + dir + " holds no run to resume (no " + STATS + ", "
                    + MODEL + " or checkpoint)");
        }
        return new RunFolder(dir, files);
    }

    /** The files of a run in {@code dir} (empty when it is missing or holds none). */
    static List<Path> runFiles(Path dir) throws IOException {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (!Files.isRegularFile(p)) {
                    continue;
                }
                if (n.equals(STATS) || n.startsWith(STATS + ".") || n.equals(MODEL) || n.equals(LabelNoise.FILE_NAME)
                        || n.equals(SETTINGS) || CHECKPOINT.matcher(n).matches()) {
                    out.add(p);
                }
            }
        }
        out.sort(null);
        return out;
    }

    private static String names(List<Path> files) {
        List<String> n = new ArrayList<>();
        for (Path p : files) {
            n.add(p.getFileName().toString());
        }
        return String.join(", ", n);
    }

    /** The model to resume: {@code model.zip}, else the checkpoint of the highest epoch. */
    File modelToResume() {
        Path model = dir.resolve(MODEL);
        if (Files.isRegularFile(model)) {
            return model.toFile();
        }
        Path best = null;
        long bestEpoch = -1;
        for (Path p : runFiles) {
            Matcher m = CHECKPOINT.matcher(p.getFileName().toString());
            if (m.matches() && Long.parseLong(m.group(1)) > bestEpoch) {
                bestEpoch = Long.parseLong(m.group(1));
                best = p;
            }
        }
        if (best == null) {
            throw new IllegalArgumentException("--resume: " + dir + " has no saved model to continue from (no " + MODEL
                    + " and no checkpoint-epoch-K.zip; the run was stopped before its first checkpoint). Use --force to "
                    + "start afresh, or --checkpoint-every next time.");
        }
        return best.toFile();
    }

    /**
     * Checks that the label noise of the resumed run is reproduced exactly: same flipped indices
     * as its {@code flipped-labels.txt}, or none on both sides.
     */
    void checkSameLabelNoise(LabelNoise.Result noise) throws IOException {
        Path f = dir.resolve(LabelNoise.FILE_NAME);
        boolean had = Files.isRegularFile(f);
        if (!had && noise == null) {
            return;
        }
        if (had != (noise != null)) {
            throw new IllegalArgumentException("--resume: the run in " + dir + (had ? " was trained with label noise ("
                    + f.getFileName() + ") but --label-noise is 0" : " was trained without label noise but --label-noise is set")
                    + "; give the original run's --label-noise, --seed and limits");
        }
        int[] old = LabelNoise.readIndices(f);
        int[] now = noise.flippedIndices();
        if (!Arrays.equals(old, now)) {
            throw new IllegalArgumentException("--resume: --label-noise, --seed and --train-limit flip other labels ("
                    + now.length + ") than the run in " + dir + " did (" + old.length + ", listed in " + f.getFileName()
                    + "); give the original run's values");
        }
    }

    /**
     * Writes the run's data- and model-defining flags ({@link #SETTINGS}); a resumed run
     * keeps the file it started with.
     */
    void writeSettings(java.util.Map<String, String> settings) throws IOException {
        java.util.Properties p = new java.util.Properties();
        p.putAll(settings);
        try (var w = Files.newBufferedWriter(dir.resolve(SETTINGS))) {
            p.store(w, "flags of the run's data and model; train --resume must be given the same");
        }
    }

    /**
     * Checks that {@code --resume} is given the same data- and model-defining flags as the run
     * it continues, as {@link #writeSettings} stored them: other values would continue the saved
     * model on other examples, another order or another noise without a word. A run written
     * before this file existed is only checked by its label noise (see {@link #checkSameLabelNoise}).
     *
     * @return whether the folder had the settings file to check against
     * @throws IllegalArgumentException listing every flag whose value differs
     */
    boolean checkSameSettings(java.util.Map<String, String> now) throws IOException {
        Path f = dir.resolve(SETTINGS);
        if (!Files.isRegularFile(f)) {
            return false;
        }
        java.util.Properties old = new java.util.Properties();
        try (var r = Files.newBufferedReader(f)) {
            old.load(r);
        }
        List<String> diffs = new ArrayList<>();
        for (java.util.Map.Entry<String, String> e : now.entrySet()) {
            String was = old.getProperty(e.getKey());
            if (was != null && !was.equals(e.getValue())) {
                diffs.add(e.getKey() + " " + e.getValue() + " (the run used " + was + ")");
            }
        }
        if (!diffs.isEmpty()) {
            throw new IllegalArgumentException("--resume: the run in " + dir + " was started with other flags: "
                    + String.join("; ", diffs) + ". Give the original run's values (listed in " + SETTINGS
                    + "), or --force to start afresh.");
        }
        return true;
    }

    /** Deletes the run's files ({@code --force}); other files in the folder stay. */
    void deleteRun() throws IOException {
        for (Path p : runFiles) {
            Files.deleteIfExists(p);
        }
    }

    /**
     * Restores a saved network (a MultiLayerNetwork or, for {@code --model resnet} and graph
     * {@code --config} runs, a ComputationGraph) with its updater state and checks that it fits
     * the data.
     *
     * @throws IllegalArgumentException if the file holds neither kind or does not fit
     */
    static org.deeplearning4j.nn.api.Model restoreAny(File file, int rows, int cols, int classes) {
        try {
            return restore(file, (long) rows * cols, classes);
        } catch (IllegalArgumentException notMln) {
            if (notMln.getCause() == null) {
                throw notMln; // a MultiLayerNetwork that does not fit the data
            }
            org.deeplearning4j.nn.graph.ComputationGraph cg;
            try {
                cg = ModelSerializer.restoreComputationGraph(file, true);
            } catch (IOException | RuntimeException e) {
                throw new IllegalArgumentException("--resume: cannot read " + file + " as a MultiLayerNetwork or a "
                        + "ComputationGraph saved by this command: " + notMln.getCause().getMessage(), notMln.getCause());
            }
            try {
                dev.stethoscope.sample.ConfigModels.check(cg, rows, cols, classes);
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--resume: the saved model " + file + " does not fit the data: "
                        + e.getMessage(), e);
            }
            return cg;
        }
    }

    /**
     * Restores a saved MultiLayerNetwork with its updater state and checks that it fits the data.
     *
     * @throws IllegalArgumentException if the file is not a MultiLayerNetwork (with the reading
     *                                  error as its cause) or does not fit (without a cause)
     */
    static MultiLayerNetwork restore(File file, long inputs, int classes) {
        MultiLayerNetwork net;
        try {
            net = ModelSerializer.restoreMultiLayerNetwork(file, true);
        } catch (IOException | RuntimeException e) {
            throw new IllegalArgumentException("--resume: cannot read " + file + " as a MultiLayerNetwork saved by this "
                    + "command: " + e.getMessage(), e);
        }
        long nIn = net.layerInputSize(0);
        long nOut = net.layerSize(net.getnLayers() - 1);
        boolean cnn = net.getLayerWiseConfigurations().getInputPreProcess(0) != null
                || net.getLayer(0).conf().getLayer() instanceof org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
        if ((!cnn && nIn != inputs) || nOut != classes) {
            throw new IllegalArgumentException("--resume: the saved model " + file + " takes " + nIn + " inputs and has "
                    + nOut + " outputs, the data has " + inputs + " inputs and " + classes + " classes");
        }
        return net;
    }
}
