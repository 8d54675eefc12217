package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import javax.imageio.ImageIO;
import java.awt.BasicStroke;
import java.awt.Color;
import java.awt.Font;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.File;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * Renders Zeiler &amp; Fergus' Fig. 4 from a stored run: for one layer, units as rows and the snapshot epochs as
 * columns, each cell the top-1 deconvnet projection (or the input crop when the run has no projections) of that
 * unit at that epoch, min-max scaled to grey, with a red frame where the top-1 example changed since the previous
 * snapshot. For a graph with several inputs, a unit that sees several (behind a merge) gets one image per input in its
 * cell, stacked top to bottom in the inputs' order (twoview: the top half over the bottom half).
 */
@Command(name = "features", mixinStandardHelpOptions = true,
        description = "Render the feature-evolution figure (units x epochs, top-1 projections) of a stored run as PNG.")
public final class FeaturesCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_FILE",
            description = "The run's stats file (FileStatsStorage, e.g. runs/<run>/stats.dl4j).")
    File runFile;

    @Option(names = "--layer", required = true, paramLabel = "L",
            description = "The layer: its name or DL4J index, as the run's feature snapshots name it.")
    String layer;

    @Option(names = "--units", paramLabel = "RANGE",
            description = "Units to show: a range like 0-15 or a list like 0,3,7 (default: every tracked unit).")
    String units;

    @Option(names = "--cell", defaultValue = "48", description = "Cell size in pixels (default: ${DEFAULT-VALUE}).")
    int cell;

    @Option(names = "--out", defaultValue = "features.png", paramLabel = "F",
            description = "Output PNG (default: ${DEFAULT-VALUE}).")
    File out;

    @Override
    public Integer call() throws Exception {
        Checks.atLeast("--cell", cell, 8);
        if (!runFile.isFile()) {
            throw new IllegalArgumentException("No run file " + runFile);
        }
        List<FeatureSnapshot> snaps = new ArrayList<>();
        Set<String> layers = new LinkedHashSet<>();
        FileStatsStorage storage = dev.stethoscope.plugin.StatsFiles.open(runFile);
        try {
            for (StethoscopeRecord r : ExportCommand.read(storage, Set.of(FeatureSnapshot.TYPE_ID))) {
                if (r.holds(FeatureSnapshot.class)) {
                    FeatureSnapshot s = r.payload(FeatureSnapshot.class);
                    layers.add(s.layer() + ":" + s.layerName());
                    if (layer.equals(s.layerName()) || layer.equals(String.valueOf(s.layer()))) {
                        snaps.add(s);
                    }
                }
            }
        } finally {
            storage.close();
        }
        if (snaps.isEmpty()) {
            throw new IllegalArgumentException(layers.isEmpty() ? "The run has no feature snapshots (train with --features)"
                    : "No feature snapshots of layer '" + layer + "'; layers: " + layers);
        }
        TreeMap<Integer, FeatureSnapshot> byEpoch = new TreeMap<>();
        snaps.forEach(s -> byEpoch.put(s.snapshotEpoch(), s)); // the latest record of an epoch wins
        List<Integer> shown = selectUnits(byEpoch.lastEntry().getValue());
        BufferedImage img = render(new ArrayList<>(byEpoch.values()), shown, cell);
        ImageIO.write(img, "png", out);
        System.out.printf(Locale.ROOT, "Wrote %s: layer %s, %d units x %d epochs %s%n", out, snaps.get(0).layerName(),
                shown.size(), byEpoch.size(), byEpoch.keySet());
        return 0;
    }

    private List<Integer> selectUnits(FeatureSnapshot last) {
        List<Integer> tracked = last.units().stream().map(FeatureUnit::unit).toList();
        if (units == null) {
            return tracked;
        }
        List<Integer> want = new ArrayList<>();
        try {
            for (String part : units.split(",")) {
                String p = part.trim();
                int dash = p.indexOf('-', 1);
                if (dash > 0) {
                    int a = Integer.parseInt(p.substring(0, dash).trim());
                    int b = Integer.parseInt(p.substring(dash + 1).trim());
                    for (int u = a; u <= b; u++) {
                        want.add(u);
                    }
                } else {
                    want.add(Integer.parseInt(p));
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--units takes a range like 0-15 or a list like 0,3,7, got '" + units + "'");
        }
        List<Integer> missing = want.stream().filter(u -> !tracked.contains(u)).toList();
        if (!missing.isEmpty()) {
            throw new IllegalArgumentException("Units " + missing + " are not tracked in layer " + last.layerName()
                    + "; tracked: " + tracked);
        }
        return want;
    }

    /** The figure: a header row of epochs, a left column of unit ids, one cell per unit and epoch. */
    static BufferedImage render(List<FeatureSnapshot> epochs, List<Integer> units, int cell) {
        int left = 40;
        int top = 20;
        int pad = 4;
        int w = left + epochs.size() * (cell + pad) + pad;
        int h = top + units.size() * (cell + pad) + pad;
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = img.createGraphics();
        g.setColor(Color.WHITE);
        g.fillRect(0, 0, w, h);
        g.setFont(new Font(Font.SANS_SERIF, Font.PLAIN, 11));
        g.setColor(Color.DARK_GRAY);
        for (int c = 0; c < epochs.size(); c++) {
            g.drawString("ep " + epochs.get(c).snapshotEpoch(), left + c * (cell + pad) + pad, top - 6);
        }
        for (int r = 0; r < units.size(); r++) {
            int y = top + r * (cell + pad) + pad;
            g.setColor(Color.DARK_GRAY);
            g.drawString(String.valueOf(units.get(r)), 4, y + cell / 2 + 4);
            for (int c = 0; c < epochs.size(); c++) {
                int x = left + c * (cell + pad) + pad;
                FeatureUnit u = unitOf(epochs.get(c), units.get(r));
                if (u == null || u.values().length == 0) {
                    continue;
                }
                List<FeatureImage> ims = new ArrayList<>();
                FeatureImage im = !u.projections().isEmpty() ? u.projections().get(0)
                        : !u.crops().isEmpty() ? u.crops().get(0) : null;
                if (im != null) {
                    ims.add(im);
                }
                for (FeatureSnapshot.InputImages o : u.otherInputs()) {
                    FeatureImage oi = !o.projections().isEmpty() ? o.projections().get(0)
                            : !o.crops().isEmpty() ? o.crops().get(0) : null;
                    if (oi != null) {
                        ims.add(oi);
                    }
                }
                if (ims.size() == 1) {
                    draw(img, ims.get(0), x, y, cell);
                } else if (ims.size() > 1) {
                    int part = cell / ims.size();
                    for (int q = 0; q < ims.size(); q++) {
                        draw(img, ims.get(q), x + (cell - part) / 2, y + q * part, part);
                    }
                }
                if (u.top1Changed()) {
                    g.setColor(Color.RED);
                    g.setStroke(new BasicStroke(2f));
                    g.drawRect(x - 1, y - 1, cell + 1, cell + 1);
                }
            }
        }
        g.dispose();
        return img;
    }

    static FeatureUnit unitOf(FeatureSnapshot s, int unit) {
        for (FeatureUnit u : s.units()) {
            if (u.unit() == unit) {
                return u;
            }
        }
        return null;
    }

    /** Draws the first channel (three channels: RGB), min-max scaled, nearest-neighbour into a cell x cell box. */
    static void draw(BufferedImage img, FeatureImage im, int x0, int y0, int cell) {
        int h = im.height();
        int w = im.width();
        if (h == 0 || w == 0) {
            return;
        }
        float[] px = im.pixels();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (float v : px) {
            if (Float.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        if (!(hi > lo)) {
            lo = Double.isFinite(lo) ? lo - 1 : -1;
            hi = lo + 2;
        }
        boolean rgb = im.channels() == 3;
        int side = Math.max(h, w);
        for (int yy = 0; yy < cell; yy++) {
            for (int xx = 0; xx < cell; xx++) {
                int sy = yy * side / cell;
                int sx = xx * side / cell;
                if (sy >= h || sx >= w) {
                    continue;
                }
                int[] c = new int[3];
                for (int k = 0; k < 3; k++) {
                    float v = px[(rgb ? k * h * w : 0) + sy * w + sx];
                    c[k] = Float.isFinite(v) ? (int) Math.round(255 * (v - lo) / (hi - lo)) : 0;
                }
                img.setRGB(x0 + xx, y0 + yy, (c[0] << 16) | (c[1] << 8) | c[2]);
            }
        }
    }
}
