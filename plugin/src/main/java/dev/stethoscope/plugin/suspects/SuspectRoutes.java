package dev.stethoscope.plugin.suspects;

import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.SuspectMarkRecord;
import dev.stethoscope.listeners.records.SuspectTableRecord;
import dev.stethoscope.plugin.StethoscopeModule;
import dev.stethoscope.plugin.StorageAccess;
import dev.stethoscope.plugin.api.RouteProvider;
import io.vertx.ext.web.RoutingContext;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.ui.api.HttpMethod;
import org.deeplearning4j.ui.api.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Routes of the Suspects page:
 * <ul>
 *   <li>{@code POST /stethoscope/api/suspects/:sessionId/mark?index=I&given=G&decision=D&corrected=C}
 *       stores the user's decision (D one of {@link SuspectMarkRecord#DECISIONS}; C the
 *       corrected label, required for "mislabeled") as a {@link SuspectMarkRecord} in the
 *       StatsStorage that holds the session, so it survives reopening a file-backed run;</li>
 *   <li>{@code GET /stethoscope/api/suspects/:sessionId/marks}: the effective (latest) mark of
 *       every marked example, as JSON;</li>
 *   <li>{@code GET /stethoscope/api/suspects/:sessionId/export[?all=1]}: CSV
 *       ({@value SuspectExport#HEADER}) of the marked examples, or of every example with
 *       {@code all=1}, sorted by the combined score.</li>
 * </ul>
 * Parameters travel in the query string, so no request body parsing is needed.
 */
public final class SuspectRoutes implements RouteProvider {
    private static final Logger log = LoggerFactory.getLogger(SuspectRoutes.class);

    /** Public no-argument constructor for the ServiceLoader. */
    public SuspectRoutes() {
    }

    @Override
    public List<Route> routes(StorageAccess storage) {
        List<Route> r = new ArrayList<>();
        r.add(new Route("/stethoscope/api/suspects/:sessionId/mark", HttpMethod.POST,
                (p, rc) -> mark(storage, p.get(0), rc)));
        r.add(new Route("/stethoscope/api/suspects/:sessionId/marks", HttpMethod.GET,
                (p, rc) -> marks(storage, p.get(0), rc)));
        r.add(new Route("/stethoscope/api/suspects/:sessionId/export", HttpMethod.GET,
                (p, rc) -> export(storage, p.get(0), rc)));
        return r;
    }

    private static void error(RoutingContext rc, int status, String message) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("error", message);
        rc.response().setStatusCode(status);
        StethoscopeModule.sendJson(rc, m);
    }

    private static SuspectTableRecord table(StorageAccess storage, String session) {
        SuspectTableRecord best = null;
        for (StethoscopeRecord r : storage.staticInfos(session, SuspectTableRecord.TYPE_ID)) {
            if (r instanceof SuspectTableRecord t && (best == null || t.getTableEpoch() > best.getTableEpoch()
                    || (t.getTableEpoch() == best.getTableEpoch() && t.getTimeStamp() > best.getTimeStamp()))) {
                best = t;
            }
        }
        return best;
    }

    private static Map<Long, SuspectMarkRecord> currentMarks(StorageAccess storage, String session) {
        return SuspectExport.latestMarks(storage.updates(session, SuspectMarkRecord.TYPE_ID, -1));
    }

    private static void mark(StorageAccess storage, String session, RoutingContext rc) {
        Optional<StatsStorage> target = storage.storageOf(session);
        if (target.isEmpty()) {
            error(rc, 404, "Unknown session '" + session + "'");
            return;
        }
        long index;
        int given;
        int corrected;
        String decision = rc.request().getParam("decision");
        try {
            index = Long.parseLong(rc.request().getParam("index"));
            given = Integer.parseInt(rc.request().getParam("given"));
            String c = rc.request().getParam("corrected");
            corrected = c == null || c.isEmpty() ? -1 : Integer.parseInt(c);
        } catch (NumberFormatException | NullPointerException e) {
            error(rc, 400, "index and given are required integers; corrected is an integer label");
            return;
        }
        if (decision == null || !SuspectMarkRecord.DECISIONS.contains(decision)) {
            error(rc, 400, "decision must be one of " + SuspectMarkRecord.DECISIONS);
            return;
        }
        SuspectTableRecord t = table(storage, session);
        int epoch = 0;
        if (t != null) {
            epoch = t.getTableEpoch();
            if (index < 0 || index >= t.numExamples()) {
                error(rc, 400, "index " + index + " outside [0, " + t.numExamples() + ")");
                return;
            }
            int g = t.getGivenLabel()[(int) index];
            if (g >= 0 && g != given) {
                error(rc, 400, "example " + index + " has given label " + g + ", not " + given);
                return;
            }
            if ("mislabeled".equals(decision) && (corrected < 0 || corrected >= t.getNumClasses())) {
                error(rc, 400, "corrected label must be in [0, " + t.getNumClasses() + ")");
                return;
            }
        }
        try {
            SuspectMarkRecord m = SuspectExport.putMark(target.get(),
                    session, new SuspectMarkRecord(index, given, decision, corrected), epoch);
            StethoscopeModule.sendJson(rc, m.toJson());
        } catch (IllegalArgumentException e) {
            error(rc, 400, e.getMessage());
        } catch (RuntimeException e) {
            log.warn("Could not store the mark of example {}", index, e);
            error(rc, 500, "Could not store the mark: " + e);
        }
    }

    private static void marks(StorageAccess storage, String session, RoutingContext rc) {
        List<Object> out = new ArrayList<>();
        for (SuspectMarkRecord m : currentMarks(storage, session).values()) {
            out.add(m.toJson());
        }
        StethoscopeModule.sendJson(rc, out);
    }

    private static void export(StorageAccess storage, String session, RoutingContext rc) {
        SuspectTableRecord t = table(storage, session);
        if (t == null) {
            error(rc, 404, "Session '" + session + "' has no suspect table yet (it appears after the first epoch "
                    + "of training with the TrainingDynamicsListener)");
            return;
        }
        boolean all = "1".equals(rc.request().getParam("all"));
        StringWriter w = new StringWriter();
        try {
            SuspectExport.writeCsv(w, t, currentMarks(storage, session), !all);
        } catch (IOException e) {
            error(rc, 500, e.toString());
            return;
        }
        rc.response()
                .putHeader("content-type", "text/csv; charset=utf-8")
                .putHeader("content-disposition", "attachment; filename=\"" + (all ? "suspects-all.csv" : "suspects-marked.csv") + "\"")
                .putHeader("cache-control", "no-store")
                .putHeader("x-content-type-options", "nosniff")
                .end(w.toString());
    }
}
