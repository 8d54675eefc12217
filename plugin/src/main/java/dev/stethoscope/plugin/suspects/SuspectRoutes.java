package dev.stethoscope.plugin.suspects;

import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.plugin.StethoscopeModule;
import dev.stethoscope.plugin.StorageAccess;
import dev.stethoscope.plugin.StethoscopeModule.Reply;
import dev.stethoscope.plugin.WebGuard;
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
 *       stores the user's decision (D one of {@link SuspectMark#DECISIONS}; C the
 *       corrected label, required for "mislabeled") as a {@link SuspectMark} in the
 *       StatsStorage that holds the session, so it survives reopening a file-backed run;</li>
 *   <li>{@code GET /stethoscope/api/suspects/:sessionId/marks}: the effective (latest) mark of
 *       every marked example, as JSON;</li>
 *   <li>{@code GET /stethoscope/api/suspects/:sessionId/export[?all=1]}: CSV
 *       ({@value SuspectExport#HEADER}) of the marked examples, or of every example with
 *       {@code all=1}, sorted by the combined score.</li>
 * </ul>
 * Parameters travel in the query string, so no request body parsing is needed.
 * A mark needs the {@value WebGuard#CSRF_HEADER} header and a same-origin (or
 * no) Origin; it is refused with 409 until the session has a suspect table
 * (the mark could not be checked against the example's label), unless an
 * assertion with the send-to-suspects action flagged the example (an
 * {@link AssertionFinding} whose examples carry their example index): then it
 * is checked against the label in that record. Without a table the export
 * lists the marked examples with their index, label and mark only. Marks are
 * written one at a time on a worker thread, never on the event loop.
 */
public final class SuspectRoutes implements RouteProvider {
    private static final Logger log = LoggerFactory.getLogger(SuspectRoutes.class);

    /** Public no-argument constructor for the ServiceLoader. */
    public SuspectRoutes() {
    }

    @Override
    public List<Route> routes(StorageAccess storage) {
        List<Route> r = new ArrayList<>();
        r.add(new Route("/stethoscope/api/suspects/:sessionId/mark", HttpMethod.POST, (p, rc) -> {
            String problem = WebGuard.stateChangeProblem(rc.request(), true);
            if (problem != null) { // also checked by WebGuard; kept here for DL4J's stock UI server
                Reply.error(403, problem).send(rc);
                return;
            }
            String session = p.get(0);
            MarkRequest m = MarkRequest.parse(rc);
            StethoscopeModule.blocking(rc, true, () -> mark(storage, session, m));
        }));
        r.add(new Route("/stethoscope/api/suspects/:sessionId/marks", HttpMethod.GET, (p, rc) -> {
            int limit = StethoscopeModule.limitOrAnswer(rc);
            if (limit > 0) {
                StethoscopeModule.blocking(rc, false, () -> marks(storage, p.get(0), limit));
            }
        }));
        r.add(new Route("/stethoscope/api/suspects/:sessionId/export", HttpMethod.GET, (p, rc) -> {
            boolean all = "1".equals(rc.request().getParam("all"));
            StethoscopeModule.blocking(rc, false, () -> export(storage, p.get(0), all));
        }));
        return r;
    }

    /** The query parameters of a mark (read on the event loop, validated on the worker). */
    private record MarkRequest(String index, String given, String decision, String corrected) {
        static MarkRequest parse(RoutingContext rc) {
            return new MarkRequest(rc.request().getParam("index"), rc.request().getParam("given"),
                    rc.request().getParam("decision"), rc.request().getParam("corrected"));
        }
    }

    private static SuspectTable table(StorageAccess storage, String session) {
        StethoscopeRecord best = null;
        int bestEpoch = Integer.MIN_VALUE;
        for (StethoscopeRecord r : storage.staticInfos(session, SuspectTable.TYPE_ID)) {
            if (r.holds(SuspectTable.class)) {
                int e = r.payload(SuspectTable.class).tableEpoch();
                if (best == null || e > bestEpoch || (e == bestEpoch && r.getTimeStamp() > best.getTimeStamp())) {
                    best = r;
                    bestEpoch = e;
                }
            }
        }
        return best == null ? null : best.payload(SuspectTable.class);
    }

    private static Map<Long, StethoscopeRecord> currentMarks(StorageAccess storage, String session) {
        return SuspectExport.latestMarkRecords(storage.updates(session, SuspectMark.TYPE_ID, -1));
    }

    private static Reply mark(StorageAccess storage, String session, MarkRequest q) {
        Optional<StatsStorage> target = storage.storageOf(session);
        if (target.isEmpty()) {
            return Reply.error(404, "Unknown session '" + session + "'");
        }
        long index;
        int given;
        int corrected;
        try {
            index = Long.parseLong(q.index());
            given = Integer.parseInt(q.given());
            corrected = q.corrected() == null || q.corrected().isEmpty() ? -1 : Integer.parseInt(q.corrected());
        } catch (NumberFormatException | NullPointerException e) {
            return Reply.error(400, "index and given are required integers; corrected is an integer label");
        }
        String decision = q.decision();
        if (decision == null || !SuspectMark.DECISIONS.contains(decision)) {
            return Reply.error(400, "decision must be one of " + SuspectMark.DECISIONS);
        }
        SuspectTable t = table(storage, session);
        if (t == null) {
            return markHit(storage, target.get(), session, index, given, decision, corrected);
        }
        int epoch = t.tableEpoch();
        if (index < 0 || index >= t.numExamples()) {
            return Reply.error(400, "index " + index + " outside [0, " + t.numExamples() + ")");
        }
        int g = t.given()[(int) index];
        if (g >= 0 && g != given) {
            return Reply.error(400, "example " + index + " has given label " + g + ", not " + given);
        }
        if ("mislabeled".equals(decision) && (corrected < 0 || corrected >= t.numClasses())) {
            return Reply.error(400, "corrected label must be in [0, " + t.numClasses() + ")");
        }
        try {
            // Serialised with the listeners' writes to the same storage (see SuspectExport.putMark).
            StethoscopeRecord m = SuspectExport.putMark(target.get(),
                    session, new SuspectMark(index, given, decision, corrected), epoch);
            return Reply.json(m.toJson());
        } catch (IllegalArgumentException e) {
            return Reply.error(400, e.getMessage());
        } catch (RuntimeException e) {
            log.warn("Could not store the mark of example {}", index, e);
            return Reply.error(500, "Could not store the mark: " + e.getClass().getSimpleName());
        }
    }

    /**
     * The latest assertion hit of example {@code index} sent to the review list
     * ({@link AssertionFinding} with the send-to-suspects action, examples named by their example
     * index), with its record; null if there is none.
     */
    static Map.Entry<StethoscopeRecord, AssertionFinding.Example> latestHit(StorageAccess storage, String session,
                                                                           long index) {
        Map.Entry<StethoscopeRecord, AssertionFinding.Example> best = null;
        for (StethoscopeRecord r : storage.updates(session, AssertionFinding.TYPE_ID, -1)) {
            if (!r.holds(AssertionFinding.class)) {
                continue;
            }
            AssertionFinding f = r.payload(AssertionFinding.class);
            if (!f.did("send-to-suspects") || !f.namesExamples()) {
                continue;
            }
            for (AssertionFinding.Example e : f.examples()) {
                if (e.index() == index && (best == null || r.getTimeStamp() > best.getKey().getTimeStamp())) {
                    best = Map.entry(r, e);
                }
            }
        }
        return best;
    }

    /** A mark of an example an assertion sent to the review list, in a session without a suspect table. */
    private static Reply markHit(StorageAccess storage, StatsStorage target, String session, long index, int given,
                                 String decision, int corrected) {
        Map.Entry<StethoscopeRecord, AssertionFinding.Example> hit = latestHit(storage, session, index);
        if (hit == null) {
            return Reply.error(409, "Session '" + session + "' has no suspect table yet and no assertion sent example "
                    + index + " to the review list, so it cannot be checked: marks are accepted once the "
                    + "TrainingDynamicsListener has published its first table (after the first epoch), or for examples "
                    + "of an assertion with the SEND_TO_SUSPECTS action");
        }
        AssertionFinding f = hit.getKey().payload(AssertionFinding.class);
        int g = hit.getValue().given();
        if (g >= 0 && g != given) {
            return Reply.error(400, "example " + index + " has given label " + g + ", not " + given);
        }
        if ("mislabeled".equals(decision) && (corrected < 0 || (f.numClasses() > 0 && corrected >= f.numClasses()))) {
            return Reply.error(400, "corrected label must be in [0, " + (f.numClasses() > 0 ? f.numClasses() : "n") + ")");
        }
        try {
            StethoscopeRecord m = SuspectExport.putMark(target, session, new SuspectMark(index, given, decision,
                    corrected), hit.getKey().getEpoch());
            return Reply.json(m.toJson());
        } catch (IllegalArgumentException e) {
            return Reply.error(400, e.getMessage());
        } catch (RuntimeException e) {
            log.warn("Could not store the mark of example {}", index, e);
            return Reply.error(500, "Could not store the mark: " + e.getClass().getSimpleName());
        }
    }

    private static Reply marks(StorageAccess storage, String session, int limit) {
        List<Object> out = new ArrayList<>();
        Map<Long, StethoscopeRecord> all = currentMarks(storage, session);
        for (StethoscopeRecord m : all.values()) {
            if (out.size() == limit) {
                break;
            }
            out.add(m.toJson());
        }
        return Reply.json(out).truncated(all.size() > limit);
    }

    private static Reply export(StorageAccess storage, String session, boolean all) {
        SuspectTable t = table(storage, session);
        Map<Long, StethoscopeRecord> marks = currentMarks(storage, session);
        if (t == null && marks.isEmpty()) {
            return Reply.error(404, "Session '" + session + "' has no suspect table yet (it appears after the first epoch "
                    + "of training with the TrainingDynamicsListener) and no marks");
        }
        StringWriter w = new StringWriter();
        try {
            SuspectExport.writeCsv(w, t, SuspectExport.latestMarks(marks.values()), !all);
        } catch (IOException e) {
            return Reply.error(500, e.toString());
        }
        return Reply.text(200, "text/csv; charset=utf-8", w.toString())
                .header("content-disposition", "attachment; filename=\"" + (all ? "suspects-all.csv" : "suspects-marked.csv") + "\"");
    }
}
