package dev.stethoscope.plugin.features;

import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.plugin.StethoscopeModule;
import dev.stethoscope.plugin.StethoscopeModule.Reply;
import dev.stethoscope.plugin.StorageAccess;
import dev.stethoscope.plugin.api.RouteProvider;
import org.deeplearning4j.ui.api.HttpMethod;
import org.deeplearning4j.ui.api.Route;

import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Compact routes of the Feature evolution panel, so that a long LeNet run's page stays small (the full
 * {@link FeatureSnapshot} records carry k crops and k projections of every unit as JSON floats, about 5 MB per
 * LeNet snapshot):
 * <ul>
 *   <li>{@code GET /stethoscope/api/features/:sessionId/grid?cursor=N&layer=L}: the snapshots that arrived after
 *       the first N, in arrival order, with the cursor to ask with next in
 *       {@value StethoscopeModule#CURSOR_HEADER} (as the records route: a snapshot stored late with an older
 *       timestamp, e.g. a Spark worker's, is not missed; see {@link StorageAccess#pageSince}); or, with
 *       {@code after=T} instead of {@code cursor}, the snapshots after timestamp T by time.
 *       Those of layer L with their units (none without {@code layer}), each unit with its top-1 value and example
 *       only and one image (the top-1 projection, else the crop; for a graph with several inputs also the unit's
 *       {@code input} and, in {@code others}, one such image per further input); other layers' snapshots without
 *       units; each snapshot's {@code inputs} (those reaching the layer; empty with one input); the
 *       first-layer filters (compact) and the histograms of every snapshot. Paged like
 *       the records route ({@code limit}, {@code X-Stethoscope-Truncated}).</li>
 *   <li>{@code GET /stethoscope/api/features/:sessionId/unit?layer=L&epoch=E&unit=U}: one unit's full top-k with
 *       every crop and projection, and for a graph with several inputs its {@code input} and {@code otherInputs}
 *       (name, crops, projections per further input) (404 when the session has no such snapshot or unit).</li>
 * </ul>
 * Images travel as {@link #compact(FeatureImage) compact images}: {@code channels, height, width, y0, x0, lo, hi}
 * and {@code data}, the pixels min-max scaled to bytes 0..255 (non-finite values 0) in base64, CHW order.
 */
public final class FeatureRoutes implements RouteProvider {

    /** Public no-argument constructor for the ServiceLoader. */
    public FeatureRoutes() {
    }

    @Override
    public List<Route> routes(StorageAccess storage) {
        List<Route> r = new ArrayList<>();
        r.add(new Route("/stethoscope/api/features/:sessionId/grid", HttpMethod.GET, (p, rc) -> {
            int limit = StethoscopeModule.limitOrAnswer(rc);
            long after = parseLong(rc.request().getParam("after"), -1);
            String layerParam = rc.request().getParam("layer");
            int cursor = limit > 0 ? StethoscopeModule.cursorOrAnswer(rc) : StethoscopeModule.BAD_CURSOR;
            if (cursor == StethoscopeModule.BAD_CURSOR) {
                return;
            }
            Integer layer = null;
            if (layerParam != null && !layerParam.isEmpty()) {
                try {
                    layer = Integer.parseInt(layerParam);
                } catch (NumberFormatException e) {
                    Reply.error(400, "layer must be a DL4J layer index").send(rc);
                    return;
                }
            }
            Integer chosen = layer;
            String session = p.get(0);
            if (cursor != StethoscopeModule.NO_CURSOR) {
                StethoscopeModule.blocking(rc, false, () -> {
                    StorageAccess.CursorPage page = storage.pageSince(session, FeatureSnapshot.TYPE_ID, cursor, limit);
                    return grid(page.records(), chosen).truncated(page.truncated())
                            .header(StethoscopeModule.CURSOR_HEADER, Integer.toString(page.next()));
                });
            } else {
                StethoscopeModule.blocking(rc, false, () -> {
                    StorageAccess.Page page = storage.page(session, FeatureSnapshot.TYPE_ID, after, limit);
                    return grid(page.records(), chosen).truncated(page.truncated());
                });
            }
        }));
        r.add(new Route("/stethoscope/api/features/:sessionId/unit", HttpMethod.GET, (p, rc) -> {
            String session = p.get(0);
            String layer = rc.request().getParam("layer");
            String epoch = rc.request().getParam("epoch");
            String unit = rc.request().getParam("unit");
            StethoscopeModule.blocking(rc, false, () -> unit(storage, session, layer, epoch, unit));
        }));
        return r;
    }

    private static long parseLong(String s, long fallback) {
        try {
            return s == null ? fallback : Long.parseLong(s);
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    /** The grid entries of {@code records}, in their order; those of {@code layer} (may be null) with their units. */
    private static Reply grid(List<StethoscopeRecord> records, Integer layer) {
        List<Object> out = new ArrayList<>();
        for (StethoscopeRecord rec : records) {
            FeatureSnapshot s;
            try {
                s = rec.payload(FeatureSnapshot.class);
            } catch (RuntimeException e) {
                continue; // an inconsistent record: the records route skips and logs it too
            }
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("timestamp", rec.getTimeStamp());
            m.put("layer", s.layer());
            m.put("layerName", s.layerName());
            m.put("layerType", s.layerType());
            m.put("snapshotEpoch", s.snapshotEpoch());
            m.put("k", s.k());
            m.put("comparedUnits", s.comparedUnits());
            m.put("changedFraction", finite(s.changedFraction()));
            m.put("meanOverlap", finite(s.meanOverlap()));
            m.put("settledAt", s.settledAt());
            m.put("inputs", s.inputs());
            if (layer != null && layer == s.layer()) {
                List<Object> units = new ArrayList<>();
                for (FeatureUnit u : s.units()) {
                    Map<String, Object> um = new LinkedHashMap<>();
                    um.put("unit", u.unit());
                    um.put("entries", u.values().length);
                    um.put("top1Changed", u.top1Changed());
                    if (u.values().length > 0) {
                        um.put("value", finite(u.values()[0]));
                        um.put("example", u.examples()[0]);
                    }
                    FeatureImage img = !u.projections().isEmpty() ? u.projections().get(0)
                            : !u.crops().isEmpty() ? u.crops().get(0) : null;
                    um.put("top1", img == null ? null : compact(img));
                    if (u.input() != null) {
                        um.put("input", u.input());
                        List<Object> others = new ArrayList<>();
                        for (FeatureSnapshot.InputImages o : u.otherInputs()) {
                            FeatureImage oi = !o.projections().isEmpty() ? o.projections().get(0)
                                    : !o.crops().isEmpty() ? o.crops().get(0) : null;
                            Map<String, Object> om = new LinkedHashMap<>();
                            om.put("input", o.name());
                            om.put("top1", oi == null ? null : compact(oi));
                            others.add(om);
                        }
                        um.put("others", others);
                    }
                    units.add(um);
                }
                m.put("units", units);
                m.put("complete", true);
            } else {
                m.put("units", List.of());
                m.put("complete", false); // another layer: no units (the page asks again when it shows the layer)
            }
            m.put("filters", s.filters().stream().map(FeatureRoutes::compact).toList());
            m.put("weights", histogram(s.weights()));
            m.put("activations", histogram(s.activations()));
            out.add(m);
        }
        return Reply.json(out);
    }

    private static Reply unit(StorageAccess storage, String session, String layerP, String epochP, String unitP) {
        int layer;
        int epoch;
        int unit;
        try {
            layer = Integer.parseInt(layerP);
            epoch = Integer.parseInt(epochP);
            unit = Integer.parseInt(unitP);
        } catch (NumberFormatException | NullPointerException e) {
            return Reply.error(400, "layer, epoch and unit are required integers");
        }
        FeatureSnapshot found = null;
        for (StethoscopeRecord rec : storage.updates(session, FeatureSnapshot.TYPE_ID, -1)) {
            try {
                FeatureSnapshot s = rec.payload(FeatureSnapshot.class);
                if (s.layer() == layer && s.snapshotEpoch() == epoch) {
                    found = s; // the latest such record wins
                }
            } catch (RuntimeException e) {
                // skipped, as on the records route
            }
        }
        if (found == null) {
            return Reply.error(404, "No feature snapshot of layer " + layer + " at epoch " + epoch);
        }
        for (FeatureUnit u : found.units()) {
            if (u.unit() == unit) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("layer", found.layer());
                m.put("layerName", found.layerName());
                m.put("snapshotEpoch", found.snapshotEpoch());
                m.put("unit", u.unit());
                List<Object> values = new ArrayList<>();
                for (double v : u.values()) {
                    values.add(finite(v));
                }
                m.put("values", values);
                m.put("examples", u.examples());
                m.put("ys", u.ys());
                m.put("xs", u.xs());
                m.put("top1Changed", u.top1Changed());
                m.put("crops", u.crops().stream().map(FeatureRoutes::compact).toList());
                m.put("projections", u.projections().stream().map(FeatureRoutes::compact).toList());
                m.put("input", u.input());
                List<Object> others = new ArrayList<>();
                for (FeatureSnapshot.InputImages o : u.otherInputs()) {
                    Map<String, Object> om = new LinkedHashMap<>();
                    om.put("name", o.name());
                    om.put("crops", o.crops().stream().map(FeatureRoutes::compact).toList());
                    om.put("projections", o.projections().stream().map(FeatureRoutes::compact).toList());
                    others.add(om);
                }
                m.put("otherInputs", others);
                return Reply.json(m);
            }
        }
        return Reply.error(404, "Layer " + layer + " at epoch " + epoch + " has no tracked unit " + unit);
    }

    private static Object finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static Map<String, Object> histogram(FeatureSnapshot.FeatureHistogram h) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("lo", finite(h.lo()));
        m.put("hi", finite(h.hi()));
        m.put("bins", h.bins());
        m.put("underflow", h.underflow());
        m.put("overflow", h.overflow());
        m.put("nan", h.nan());
        return m;
    }

    /**
     * An image as bytes: the finite pixels min-max scaled to 0..255 (all 128 when constant), non-finite ones 0,
     * base64 in {@code data}, with the range in {@code lo} and {@code hi}.
     */
    public static Map<String, Object> compact(FeatureImage img) {
        float[] px = img.pixels();
        double lo = Double.POSITIVE_INFINITY;
        double hi = Double.NEGATIVE_INFINITY;
        for (float v : px) {
            if (Float.isFinite(v)) {
                lo = Math.min(lo, v);
                hi = Math.max(hi, v);
            }
        }
        byte[] b = new byte[px.length];
        for (int i = 0; i < px.length; i++) {
            float v = px[i];
            int q = !Float.isFinite(v) ? 0 : hi > lo ? (int) Math.round(255 * (v - lo) / (hi - lo)) : 128;
            b[i] = (byte) q;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("channels", img.channels());
        m.put("height", img.height());
        m.put("width", img.width());
        m.put("y0", img.y0());
        m.put("x0", img.x0());
        m.put("lo", Double.isFinite(lo) ? lo : null);
        m.put("hi", Double.isFinite(hi) ? hi : null);
        m.put("data", Base64.getEncoder().encodeToString(b));
        return m;
    }
}
