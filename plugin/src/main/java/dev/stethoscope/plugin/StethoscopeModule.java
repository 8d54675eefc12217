package dev.stethoscope.plugin;

import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.Monitors;
import dev.stethoscope.listeners.spi.RecordType;
import dev.stethoscope.plugin.api.RouteProvider;
import io.vertx.core.buffer.Buffer;
import io.vertx.ext.web.RoutingContext;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.core.storage.StatsStorageEvent;
import org.deeplearning4j.ui.api.HttpMethod;
import org.deeplearning4j.ui.api.Route;
import org.deeplearning4j.ui.api.UIModule;
import org.deeplearning4j.ui.i18n.I18NResource;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.regex.Pattern;

/**
 * The Stethoscope module of the DL4J UI. DL4J's UI server finds it through
 * {@code META-INF/services/org.deeplearning4j.ui.api.UIModule}; nothing needs
 * to be registered in user code.
 *
 * <p>Routes: {@code /stethoscope} (the page), {@code /stethoscope/static/<file>}
 * (its scripts and styles), {@code /stethoscope/panels/<monitor id>.js} (the panel script each
 * {@link MonitorType} on the classpath declares), and JSON:
 * {@code /stethoscope/api/monitors} (the monitor types: id, title, record type ids, panel script),
 * {@code /stethoscope/api/sessions},
 * {@code /stethoscope/api/records/:sessionId/:typeId?after=<timestamp>} (or {@code ?cursor=<n>}: the
 * records that arrived after the first n, in arrival order, with the next cursor in
 * {@value #CURSOR_HEADER}; the page follows live runs this way, so records stored late with an
 * older timestamp, e.g. a Spark worker's batch, are not missed),
 * {@code /stethoscope/api/static/:sessionId/:typeId}, plus those of every
 * {@link RouteProvider} found by the ServiceLoader and of every monitor type that also implements
 * {@link RouteProvider}. The page builds its navigation from {@code /stethoscope/api/monitors}, so a
 * monitor in a third-party jar adds its panel without any change here. Records are read from the StatsStorage instances
 * attached to the UI; the page polls the JSON routes, so it updates live while
 * training runs and works the same over a stored run.
 *
 * <p>List routes take {@code limit} (default and cap {@value #MAX_LIMIT}) and
 * set {@value #TRUNCATED_HEADER}{@code : true} when items were left out; the
 * records route then continues with {@code after} = the last timestamp
 * returned. Storage reads run on Vert.x worker threads ({@link #blocking}).
 *
 * <p>The constructor has no side effects (DL4J instantiates modules more than once).
 */
public class StethoscopeModule implements UIModule {
    private static final Logger log = LoggerFactory.getLogger(StethoscopeModule.class);
    private static final Pattern STATIC_NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]*\\.(js|css|html|svg|png)");
    private static final String RESOURCE_ROOT = "stethoscope/static/";

    private final StorageAccess storage = new StorageAccess();

    /** Public no-argument constructor for the ServiceLoader. */
    public StethoscopeModule() {
    }

    @Override
    public List<String> getCallbackTypeIDs() {
        return RecordTypes.typeIds();
    }

    @Override
    public List<Route> getRoutes() {
        List<Route> routes = new ArrayList<>();
        routes.add(new Route("/stethoscope", HttpMethod.GET, (p, rc) -> sendResource(rc, "index.html")));
        routes.add(new Route("/stethoscope/", HttpMethod.GET, (p, rc) -> sendResource(rc, "index.html")));
        routes.add(new Route("/stethoscope/static/:file", HttpMethod.GET, (p, rc) -> {
            String file = p.get(0);
            if (file == null || !STATIC_NAME.matcher(file).matches()) {
                rc.response().setStatusCode(404).end();
                return;
            }
            sendResource(rc, file);
        }));
        routes.add(new Route("/stethoscope/panels/:file", HttpMethod.GET, (p, rc) -> sendPanelScript(rc, p.get(0))));
        routes.add(new Route("/stethoscope/api/monitors", HttpMethod.GET, (p, rc) -> Reply.json(monitors()).send(rc)));
        // Parameters are read on the event loop; storage work runs on a worker thread.
        routes.add(new Route("/stethoscope/api/sessions", HttpMethod.GET, (p, rc) -> {
            int limit = limitOrAnswer(rc);
            if (limit > 0) {
                blocking(rc, false, () -> sessions(limit));
            }
        }));
        routes.add(new Route("/stethoscope/api/records/:sessionId/:typeId", HttpMethod.GET, (p, rc) -> {
            int limit = limitOrAnswer(rc);
            long after = parseLong(rc.request().getParam("after"), -1);
            int cursor = limit > 0 ? cursorOrAnswer(rc) : NO_CURSOR;
            if (cursor == BAD_CURSOR) {
                return;
            }
            if (limit > 0 && cursor != NO_CURSOR) {
                blocking(rc, false, () -> {
                    StorageAccess.CursorPage page = storage.pageSince(p.get(0), p.get(1), cursor, limit);
                    List<Object> out = new ArrayList<>(page.records().size());
                    for (StethoscopeRecord r : page.records()) {
                        addJson(out, r);
                    }
                    return Reply.json(out).truncated(page.truncated())
                            .header(CURSOR_HEADER, Integer.toString(page.next()));
                });
            } else if (limit > 0) {
                blocking(rc, false, () -> {
                    StorageAccess.Page page = storage.page(p.get(0), p.get(1), after, limit);
                    List<Object> out = new ArrayList<>(page.records().size());
                    for (StethoscopeRecord r : page.records()) {
                        addJson(out, r);
                    }
                    return Reply.json(out).truncated(page.truncated());
                });
            }
        }));
        routes.add(new Route("/stethoscope/api/static/:sessionId/:typeId", HttpMethod.GET, (p, rc) -> {
            int limit = limitOrAnswer(rc);
            if (limit > 0) {
                blocking(rc, false, () -> {
                    List<Object> out = new ArrayList<>();
                    List<StethoscopeRecord> infos = storage.staticInfos(p.get(0), p.get(1));
                    for (StethoscopeRecord r : infos.subList(0, Math.min(limit, infos.size()))) {
                        addJson(out, r);
                    }
                    return Reply.json(out).truncated(infos.size() > limit);
                });
            }
        }));
        for (RouteProvider provider : ServiceLoader.load(RouteProvider.class)) {
            routes.addAll(provider.routes(storage));
        }
        for (MonitorType t : Monitors.all()) {
            if (t instanceof RouteProvider provider) {
                routes.addAll(provider.routes(storage));
            }
        }
        return routes;
    }

    /** URL of the panel script of monitor {@code id}. */
    static String panelUrl(String id) {
        return "/stethoscope/panels/" + id + ".js";
    }

    /**
     * The monitor types on the classpath as the page needs them: id, title, navigation order,
     * record types (type id and payload name) and the URL of the panel script (null without one).
     */
    static List<Map<String, Object>> monitors() {
        List<Map<String, Object>> out = new ArrayList<>();
        for (MonitorType t : Monitors.all()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("id", t.id());
            m.put("title", t.title());
            m.put("order", t.order());
            List<Map<String, Object>> types = new ArrayList<>();
            for (RecordType<?> r : t.recordTypes()) {
                Map<String, Object> rt = new LinkedHashMap<>();
                rt.put("typeId", r.typeId());
                rt.put("payload", r.payload().getSimpleName());
                types.add(rt);
            }
            m.put("recordTypes", types);
            m.put("script", t.panelScript() == null ? null : panelUrl(t.id()));
            out.add(m);
        }
        return out;
    }

    /** Serves the panel script declared by the monitor type whose id is {@code file} without ".js"; 404 otherwise. */
    private static void sendPanelScript(RoutingContext rc, String file) {
        String id = file != null && file.endsWith(".js") ? file.substring(0, file.length() - 3) : null;
        MonitorType type = id == null ? null
                : Monitors.all().stream().filter(t -> t.id().equals(id)).findFirst().orElse(null);
        if (type == null || type.panelScript() == null) {
            rc.response().setStatusCode(404).end();
            return;
        }
        ClassLoader loader = type.getClass().getClassLoader();
        sendBytes(rc, loader != null ? loader : StethoscopeModule.class.getClassLoader(), type.panelScript(), ".js");
    }

    /** Adds a record's JSON; a record whose fields do not fit together is skipped and logged, not a failed page. */
    static void addJson(List<Object> out, StethoscopeRecord r) {
        try {
            out.add(r.toJson());
        } catch (RuntimeException e) {
            org.slf4j.LoggerFactory.getLogger(StethoscopeModule.class).warn(
                    "Skipped a {} record of session {} at {}: its content is inconsistent ({})", r.getTypeID(),
                    r.getSessionID(), r.getTimeStamp(), e.toString());
        }
    }

    private Reply sessions(int limit) {
        List<Map<String, Object>> out = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : storage.sessions().entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("sessionId", e.getKey());
            m.put("types", e.getValue());
            m.put("lastUpdate", Math.max(0, storage.lastUpdate(e.getKey(), null)));
            out.add(m);
        }
        boolean truncated = out.size() > limit;
        if (truncated) { // keep the most recently updated sessions
            out.sort(Comparator.comparingLong((Map<String, Object> m) -> (Long) m.get("lastUpdate")).reversed());
            out = new ArrayList<>(out.subList(0, limit));
        }
        return Reply.json(out).truncated(truncated);
    }

    /** Largest number of items a list route returns in one response ({@code limit} is clamped to it). */
    public static final int MAX_LIMIT = 1000;
    /** Response header set to {@code true} when a list was cut at the limit. */
    public static final String TRUNCATED_HEADER = "X-Stethoscope-Truncated";
    /** Response header of the records route read with {@code cursor}: the cursor to ask with next. */
    public static final String CURSOR_HEADER = "X-Stethoscope-Cursor";

    /**
     * The {@code limit} query parameter of a list route: {@link #MAX_LIMIT} when
     * absent, clamped to it when larger.
     *
     * @throws BadRequest if it is not a positive integer
     */
    public static int limit(RoutingContext rc) {
        String s = rc.request().getParam("limit");
        if (s == null || s.isEmpty()) {
            return MAX_LIMIT;
        }
        try {
            long v = Long.parseLong(s);
            if (v >= 1) {
                return (int) Math.min(v, MAX_LIMIT);
            }
        } catch (NumberFormatException e) {
            // fall through
        }
        throw new BadRequest(400, "limit must be a positive integer (at most " + MAX_LIMIT + " items are returned)");
    }

    /**
     * The {@code limit} parameter as {@link #limit}, or, when it is invalid,
     * answers 400 and returns -1 (call on the event loop).
     */
    public static int limitOrAnswer(RoutingContext rc) {
        try {
            return limit(rc);
        } catch (BadRequest e) {
            Reply.error(e.status(), e.getMessage()).send(rc);
            return -1;
        }
    }

    /** What {@link #cursorOrAnswer} returns when the request has no {@code cursor}. */
    public static final int NO_CURSOR = -1;
    /** What {@link #cursorOrAnswer} returns after answering 400 to an invalid {@code cursor}. */
    public static final int BAD_CURSOR = -2;

    /**
     * The {@code cursor} query parameter of a route read by arrival ({@link StorageAccess#pageSince}):
     * {@link #NO_CURSOR} when absent; when it is not a whole number from 0 to {@code Integer.MAX_VALUE},
     * answers 400 and returns {@link #BAD_CURSOR} (call on the event loop).
     */
    public static int cursorOrAnswer(RoutingContext rc) {
        String s = rc.request().getParam("cursor");
        if (s == null) {
            return NO_CURSOR;
        }
        long cursor = parseLong(s, -1);
        if (cursor < 0 || cursor > Integer.MAX_VALUE) {
            Reply.error(400, "cursor must be a whole number >= 0").send(rc);
            return BAD_CURSOR;
        }
        return (int) cursor;
    }

    /** A request that gets a 4xx answer with a message. */
    public static final class BadRequest extends RuntimeException {
        private static final long serialVersionUID = 1L;
        private final int status;

        /** @param status the HTTP status (4xx) */
        public BadRequest(int status, String message) {
            super(message);
            this.status = status;
        }

        /** The HTTP status. */
        public int status() {
            return status;
        }
    }

    /** What a route answers, computed off the event loop. */
    public static final class Reply {
        private final int status;
        private final String contentType;
        private final String body;
        private final Map<String, String> headers = new LinkedHashMap<>();

        private Reply(int status, String contentType, String body) {
            this.status = status;
            this.contentType = contentType;
            this.body = body;
        }

        /** A 200 JSON answer. */
        public static Reply json(Object value) {
            return json(200, value);
        }

        /** A JSON answer with a status. */
        public static Reply json(int status, Object value) {
            return new Reply(status, "application/json; charset=utf-8", Json.write(value));
        }

        /** An error answer: {@code {"error": message}}. */
        public static Reply error(int status, String message) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("error", message);
            return json(status, m);
        }

        /** Any text answer. */
        public static Reply text(int status, String contentType, String body) {
            return new Reply(status, contentType, body);
        }

        /** Adds a header. */
        public Reply header(String name, String value) {
            headers.put(name, value);
            return this;
        }

        /** Marks the list as cut at the limit (sets {@link #TRUNCATED_HEADER}). */
        public Reply truncated(boolean truncated) {
            return header(TRUNCATED_HEADER, Boolean.toString(truncated));
        }

        /** Sends this answer (on the event loop). */
        public void send(RoutingContext rc) {
            var resp = rc.response().setStatusCode(status)
                    .putHeader("content-type", contentType)
                    .putHeader("cache-control", "no-store")
                    .putHeader("x-content-type-options", "nosniff");
            headers.forEach(resp::putHeader);
            resp.end(body);
        }
    }

    /**
     * Computes a route's answer on a Vert.x worker thread (storage reads and
     * record decoding never run on the event loop) and sends it from the event
     * loop. {@link BadRequest} becomes its 4xx answer; any other exception a 500.
     *
     * @param ordered run after the previous ordered task of this server (used for writes)
     */
    public static void blocking(RoutingContext rc, boolean ordered, Callable<Reply> work) {
        String path = rc.request().path();
        rc.vertx().<Reply>executeBlocking(promise -> {
            try {
                promise.complete(work.call());
            } catch (BadRequest e) {
                promise.complete(Reply.error(e.status(), e.getMessage()));
            } catch (Exception e) { // an Error fails the task: Vert.x calls the handler below with it
                log.warn("Route {} failed", path, e);
                promise.complete(Reply.error(500, "Internal error: " + e.getClass().getSimpleName()));
            }
        }, ordered, ar -> {
            if (rc.response().closed() || rc.response().ended()) {
                return;
            }
            if (ar.succeeded()) {
                ar.result().send(rc);
            } else {
                Reply.error(500, "Internal error").send(rc);
            }
        });
    }

    /** Writes {@code value} as a JSON response (on the event loop). */
    public static void sendJson(RoutingContext rc, Object value) {
        rc.response()
                .putHeader("content-type", "application/json; charset=utf-8")
                .putHeader("cache-control", "no-store")
                .putHeader("x-content-type-options", "nosniff")
                .end(Json.write(value));
    }

    private static void sendResource(RoutingContext rc, String file) {
        sendBytes(rc, StethoscopeModule.class.getClassLoader(), RESOURCE_ROOT + file, file);
    }

    /** Sends classpath resource {@code resource} of {@code loader}, typed by the ending of {@code name}; 404 if absent. */
    private static void sendBytes(RoutingContext rc, ClassLoader loader, String resource, String name) {
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) {
                rc.response().setStatusCode(404).end();
                return;
            }
            byte[] bytes = in.readAllBytes();
            rc.response()
                    .putHeader("content-type", contentType(name))
                    .putHeader("x-content-type-options", "nosniff")
                    .end(Buffer.buffer(bytes));
        } catch (IOException e) {
            log.warn("Could not serve {}", resource, e);
            rc.response().setStatusCode(500).end();
        }
    }

    private static String contentType(String file) {
        if (file.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        if (file.endsWith(".js")) {
            return "application/javascript; charset=utf-8";
        }
        if (file.endsWith(".css")) {
            return "text/css; charset=utf-8";
        }
        if (file.endsWith(".svg")) {
            return "image/svg+xml";
        }
        return "image/png";
    }

    private static long parseLong(String s, long dflt) {
        if (s == null || s.isEmpty()) {
            return dflt;
        }
        try {
            return Long.parseLong(s);
        } catch (NumberFormatException e) {
            return dflt;
        }
    }

    @Override
    public void reportStorageEvents(Collection<StatsStorageEvent> events) {
        // The page polls the JSON routes; nothing to push.
    }

    @Override
    public void onAttach(StatsStorage statsStorage) {
        storage.attach(statsStorage);
    }

    @Override
    public void onDetach(StatsStorage statsStorage) {
        storage.detach(statsStorage);
    }

    @Override
    public List<I18NResource> getInternationalizationResources() {
        return List.of();
    }

    /** The module's view of the attached storages. */
    public StorageAccess storage() {
        return storage;
    }
}
