package dev.stethoscope.plugin;

import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * The Stethoscope module of the DL4J UI. DL4J's UI server finds it through
 * {@code META-INF/services/org.deeplearning4j.ui.api.UIModule}; nothing needs
 * to be registered in user code.
 *
 * <p>Routes: {@code /stethoscope} (the page), {@code /stethoscope/static/<file>}
 * (its scripts and styles), and JSON:
 * {@code /stethoscope/api/sessions},
 * {@code /stethoscope/api/records/:sessionId/:typeId?after=<timestamp>},
 * {@code /stethoscope/api/static/:sessionId/:typeId}, plus those of every
 * {@link RouteProvider}. Records are read from the StatsStorage instances
 * attached to the UI; the page polls the JSON routes, so it updates live while
 * training runs and works the same over a stored run.
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
        routes.add(new Route("/stethoscope/api/sessions", HttpMethod.GET, (p, rc) -> sessions(rc)));
        routes.add(new Route("/stethoscope/api/records/:sessionId/:typeId", HttpMethod.GET, (p, rc) -> {
            long after = parseLong(rc.request().getParam("after"), -1);
            List<Object> out = new ArrayList<>();
            for (StethoscopeRecord r : storage.updates(p.get(0), p.get(1), after)) {
                addJson(out, r);
            }
            sendJson(rc, out);
        }));
        routes.add(new Route("/stethoscope/api/static/:sessionId/:typeId", HttpMethod.GET, (p, rc) -> {
            List<Object> out = new ArrayList<>();
            for (StethoscopeRecord r : storage.staticInfos(p.get(0), p.get(1))) {
                addJson(out, r);
            }
            sendJson(rc, out);
        }));
        for (RouteProvider provider : ServiceLoader.load(RouteProvider.class)) {
            routes.addAll(provider.routes(storage));
        }
        return routes;
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

    private void sessions(RoutingContext rc) {
        List<Object> out = new ArrayList<>();
        for (Map.Entry<String, Set<String>> e : storage.sessions().entrySet()) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("sessionId", e.getKey());
            m.put("types", e.getValue());
            long last = 0;
            for (String type : e.getValue()) {
                List<StethoscopeRecord> rs = storage.updates(e.getKey(), type, -1);
                if (!rs.isEmpty()) {
                    last = Math.max(last, rs.get(rs.size() - 1).getTimeStamp());
                }
            }
            m.put("lastUpdate", last);
            out.add(m);
        }
        sendJson(rc, out);
    }

    /** Writes {@code value} as a JSON response. */
    public static void sendJson(RoutingContext rc, Object value) {
        rc.response()
                .putHeader("content-type", "application/json; charset=utf-8")
                .putHeader("cache-control", "no-store")
                .putHeader("x-content-type-options", "nosniff")
                .end(Json.write(value));
    }

    private static void sendResource(RoutingContext rc, String file) {
        try (InputStream in = StethoscopeModule.class.getClassLoader().getResourceAsStream(RESOURCE_ROOT + file)) {
            if (in == null) {
                rc.response().setStatusCode(404).end();
                return;
            }
            byte[] bytes = in.readAllBytes();
            rc.response()
                    .putHeader("content-type", contentType(file))
                    .putHeader("x-content-type-options", "nosniff")
                    .end(Buffer.buffer(bytes));
        } catch (IOException e) {
            log.warn("Could not serve {}", file, e);
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
