package dev.stethoscope.plugin;

import io.vertx.core.Handler;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.http.HttpServerRequest;
import io.vertx.core.http.HttpServerResponse;
import io.vertx.core.http.HttpVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.File;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.InetAddress;
import java.net.JarURLConnection;
import java.net.NetworkInterface;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.function.IntSupplier;
import java.util.regex.Pattern;

/**
 * The checks every request to the UI server passes before DL4J's router (and
 * so DL4J's body handler, its pages and every UI module) sees it. The rules,
 * in order; the first that fails answers at once (a body that may follow is
 * never read: see {@link #refuse}):
 * <ol>
 *   <li><b>Host</b> must name this server: a loopback name ({@code localhost},
 *       {@code *.localhost}) or address (127.0.0.0/8, ::1), the bind address,
 *       or, when bound to a wildcard address, an address of one of this
 *       machine's interfaces, or a name listed in the system property
 *       {@value #ALLOWED_HOSTS_PROPERTY}; with the server's port (no port only
 *       when the server is on port 80). Otherwise 403. This defeats DNS
 *       rebinding, for DL4J's own pages too.</li>
 *   <li>A path with a {@code ..} segment (also percent-encoded) is answered
 *       404, as is an {@code /assets/...} request for a file that does not
 *       exist (DL4J's asset handler never answers those).</li>
 *   <li><b>Bodies</b>: {@code Transfer-Encoding} (a body of unknown length) is
 *       refused with 411; multipart and url-encoded form bodies with 415; a
 *       {@code Content-Length} above {@value #MAX_BODY_BYTES} bytes with 413
 *       (above {@link #maxRemoteBodyBytes()} for {@code POST /remoteReceive}
 *       while DL4J's remote listener is enabled); a body that turns out
 *       longer than the limit as it arrives (HTTP/2 bodies need not declare a
 *       length) is cut off with 413 and the connection closed. Nothing reaches
 *       DL4J's upload directory.</li>
 *   <li><b>State changes</b> (any method but GET, HEAD and OPTIONS): an
 *       {@code Origin} header must be this server's own origin (or be absent),
 *       {@code Sec-Fetch-Site} (when sent) must be {@code same-origin} or
 *       {@code none}, and the request must carry the header
 *       {@value #CSRF_HEADER}, which the Stethoscope page's scripts set and a
 *       cross-site form or simple request cannot. Only
 *       {@code POST /remoteReceive} (DL4J's RemoteUIStatsStorageRouter, which
 *       cannot set headers) is exempt from the header, not from the Origin
 *       rule. Otherwise 403.</li>
 * </ol>
 * Every response, refused or not, carries {@code X-Frame-Options: DENY},
 * {@code X-Content-Type-Options: nosniff}, {@code Referrer-Policy: no-referrer}
 * and {@code Cross-Origin-Resource-Policy: same-origin}.
 */
public final class WebGuard implements Handler<HttpServerRequest> {
    private static final Logger log = LoggerFactory.getLogger(WebGuard.class);

    /** The request header state-changing requests must carry (any non-empty value; the page sends "1"). */
    public static final String CSRF_HEADER = "X-Stethoscope-Request";
    /** Largest request body accepted, in bytes, except for DL4J's remote receiver. */
    public static final long MAX_BODY_BYTES = 64 * 1024;
    /** System property: largest body of {@code POST /remoteReceive} in bytes (default 32 MiB). */
    public static final String MAX_REMOTE_BODY_PROPERTY = "stethoscope.ui.maxRemoteBodyBytes";
    /** System property: extra host names (comma separated) accepted in the Host header. */
    public static final String ALLOWED_HOSTS_PROPERTY = "stethoscope.ui.allowedHosts";
    /** DL4J's remote-listener route. */
    public static final String REMOTE_RECEIVE = "/remoteReceive";

    private static final Pattern IPV4 = Pattern.compile("\\d{1,3}(\\.\\d{1,3}){3}");
    private static final Pattern HOST_NAME = Pattern.compile("[a-z0-9]([a-z0-9-]*[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*\\.?");

    private final Handler<HttpServerRequest> next;
    private final IntSupplier port;
    private final BooleanSupplier remoteEnabled;
    private final Set<String> allowedNames;
    private final Set<InetAddress> allowedAddresses;
    private final Set<String> warned = java.util.concurrent.ConcurrentHashMap.newKeySet();

    /**
     * @param next          the router requests go to when they pass
     * @param bindAddress   the address the server listens on
     * @param port          the port the server listens on (read per request: it is known only once listening)
     * @param remoteEnabled whether DL4J's remote listener is enabled (raises the body limit of /remoteReceive)
     */
    public WebGuard(Handler<HttpServerRequest> next, String bindAddress, IntSupplier port, BooleanSupplier remoteEnabled) {
        this.next = next;
        this.port = port;
        this.remoteEnabled = remoteEnabled;
        Set<String> names = new LinkedHashSet<>();
        Set<InetAddress> addrs = new LinkedHashSet<>();
        String bind = stripBrackets(bindAddress.trim().toLowerCase(Locale.ROOT));
        InetAddress bindIp = literal(bind);
        if (bindIp == null) {
            names.add(bind); // a host name given as the bind address
        } else if (bindIp.isAnyLocalAddress()) {
            addrs.addAll(interfaceAddresses());
        } else {
            addrs.add(bindIp);
        }
        String extra = System.getProperty(ALLOWED_HOSTS_PROPERTY, "");
        for (String h : extra.split(",")) {
            String t = stripBrackets(h.trim().toLowerCase(Locale.ROOT));
            if (t.isEmpty()) {
                continue;
            }
            InetAddress ip = literal(t);
            if (ip != null) {
                addrs.add(ip);
            } else {
                names.add(t);
            }
        }
        this.allowedNames = Collections.unmodifiableSet(names);
        this.allowedAddresses = Collections.unmodifiableSet(addrs);
    }

    /** Largest body accepted for {@code POST /remoteReceive} while DL4J's remote listener is enabled. */
    public static long maxRemoteBodyBytes() {
        String p = System.getProperty(MAX_REMOTE_BODY_PROPERTY);
        if (p != null) {
            try {
                long v = Long.parseLong(p.trim());
                if (v > 0) {
                    return v;
                }
            } catch (NumberFormatException e) {
                log.warn("Ignoring {}={} (not a positive integer)", MAX_REMOTE_BODY_PROPERTY, p);
            }
        }
        return 32L * 1024 * 1024;
    }

    @Override
    public void handle(HttpServerRequest req) {
        HttpServerResponse resp = req.response();
        addSecurityHeaders(resp);
        String host = hostOf(req);
        if (!hostAllowed(host)) {
            logRefusal("Host " + host, "Refused a request for " + req.path() + " with Host '" + host
                    + "' (not a name of this server: a DNS-rebinding page, or a name to list in -D"
                    + ALLOWED_HOSTS_PROPERTY + ")");
            refuse(req, 403, "Host '" + host + "' is not this server. Open the dashboard at http://127.0.0.1:"
                    + port.getAsInt() + "/ (or the address it listens on), or list the name in -D"
                    + ALLOWED_HOSTS_PROPERTY + "=name");
            return;
        }
        String path = req.path();
        if (path == null || hasDotDotSegment(path)) {
            refuse(req, 404, "Not found");
            return;
        }
        String te = req.getHeader("Transfer-Encoding");
        if (te != null && req.version() != HttpVersion.HTTP_2) {
            refuse(req, 411, "Request bodies need a Content-Length (Transfer-Encoding is not accepted)");
            return;
        }
        String ct = req.getHeader("Content-Type");
        if (ct != null) {
            String c = ct.toLowerCase(Locale.ROOT).trim();
            if (c.startsWith("multipart/") || c.startsWith("application/x-www-form-urlencoded")) {
                refuse(req, 415, "Uploads and form bodies are not accepted (" + c.split(";")[0] + ")");
                return;
            }
        }
        long length = 0;
        String cl = req.getHeader("Content-Length");
        if (cl != null) {
            try {
                length = Long.parseLong(cl.trim());
            } catch (NumberFormatException e) {
                refuse(req, 400, "Bad Content-Length");
                return;
            }
        }
        boolean remote = REMOTE_RECEIVE.equals(path) && req.method() == HttpMethod.POST;
        long limit = remote && remoteEnabled.getAsBoolean() ? maxRemoteBodyBytes() : MAX_BODY_BYTES;
        if (length < 0 || length > limit) {
            refuse(req, 413, "Request body of " + length + " bytes is over the limit of " + limit + " bytes");
            return;
        }
        if (!isSafe(req.method())) {
            String problem = stateChangeProblem(req, !remote);
            if (problem != null) {
                logRefusal(req.method() + " " + path + " " + problem, "Refused " + req.method() + " " + path + ": " + problem);
                refuse(req, 403, problem);
                return;
            }
        }
        if (req.method() == HttpMethod.GET && path.startsWith("/assets/") && !assetExists(path)) {
            refuse(req, 404, "Not found");
            return;
        }
        next.handle(bounded(req, limit));
    }

    /** Logs a refusal at WARN the first time for each of up to 32 kinds, then at DEBUG (no log flooding). */
    private void logRefusal(String kind, String message) {
        boolean first = warned.size() < 32 && warned.add(kind);
        if (first) {
            log.warn(message);
        } else {
            log.debug(message);
        }
    }

    /** The Host header (HTTP/1.x) or the :authority (HTTP/2, which java.net.http upgrades to by default). */
    static String hostOf(HttpServerRequest req) {
        String h = req.getHeader("Host");
        return h != null ? h : req.version() == HttpVersion.HTTP_2 ? req.host() : null;
    }

    /**
     * The request as the router sees it: the same, except that a body handler
     * that receives more than {@code limit} bytes in all (an HTTP/2 body need
     * not declare its length, an HTTP/1.1 one did) gets no more data: over
     * HTTP/2 the stream is reset (CANCEL), over HTTP/1.1 the client gets 413
     * and the connection is closed.
     */
    private HttpServerRequest bounded(HttpServerRequest req, long limit) {
        InvocationHandler h = new InvocationHandler() {
            private long received;
            private boolean refused;

            @Override
            @SuppressWarnings("unchecked")
            public Object invoke(Object proxy, Method m, Object[] args) throws Throwable {
                if (m.getName().equals("handler") && args != null && args.length == 1) {
                    Handler<Buffer> inner = (Handler<Buffer>) args[0];
                    req.handler(inner == null ? null : buf -> {
                        if (refused) {
                            return;
                        }
                        received += buf.length();
                        if (received > limit) {
                            refused = true;
                            if (req.version() == HttpVersion.HTTP_2) {
                                req.response().reset(0x8); // CANCEL this stream only: the client stops sending
                            } else {
                                refuse(req, 413, "Request body over the limit of " + limit + " bytes");
                            }
                            return;
                        }
                        inner.handle(buf);
                    });
                    return proxy;
                }
                Object r;
                try {
                    r = m.invoke(req, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                }
                return r == req ? proxy : r;
            }
        };
        return (HttpServerRequest) Proxy.newProxyInstance(WebGuard.class.getClassLoader(),
                new Class<?>[]{HttpServerRequest.class}, h);
    }

    /** Adds the framing and sniffing protections to a response. */
    public static void addSecurityHeaders(HttpServerResponse resp) {
        resp.putHeader("X-Frame-Options", "DENY");
        resp.putHeader("X-Content-Type-Options", "nosniff");
        resp.putHeader("Referrer-Policy", "no-referrer");
        resp.putHeader("Cross-Origin-Resource-Policy", "same-origin");
    }

    private static boolean isSafe(HttpMethod m) {
        return m == HttpMethod.GET || m == HttpMethod.HEAD || m == HttpMethod.OPTIONS;
    }

    /**
     * Why a state-changing request must be refused, or null if it may go on:
     * the Origin, Sec-Fetch-Site and (if {@code needHeader}) {@value #CSRF_HEADER}
     * rules. Stethoscope's POST routes also call this themselves, so they stay
     * protected under DL4J's stock UI server.
     */
    public static String stateChangeProblem(HttpServerRequest req, boolean needHeader) {
        String origin = req.getHeader("Origin");
        if (origin != null) {
            String host = hostOf(req);
            if (host == null || !origin.equalsIgnoreCase("http://" + host)) {
                return "cross-origin request (Origin '" + origin + "') refused";
            }
        }
        String site = req.getHeader("Sec-Fetch-Site");
        if (site != null && !site.equalsIgnoreCase("same-origin") && !site.equalsIgnoreCase("none")) {
            return "cross-site request (Sec-Fetch-Site '" + site + "') refused";
        }
        if (needHeader) {
            String h = req.getHeader(CSRF_HEADER);
            if (h == null || h.isBlank()) {
                return "missing request header " + CSRF_HEADER + " (the Stethoscope page sets it)";
            }
        }
        return null;
    }

    /**
     * Answers at once. A request body that may follow is never read: over
     * HTTP/1.x the connection is closed after the answer (only then, so a
     * refused GET keeps its keep-alive connection); over HTTP/2 the connection
     * stays open, since closing it would break the client's other requests on
     * it (Vert.x discards the rest of the stream's data; a body that grows past
     * the limit gets its stream reset, see {@link #bounded}).
     */
    private static void refuse(HttpServerRequest req, int status, String message) {
        HttpServerResponse resp = req.response();
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", message);
        boolean h2 = req.version() == HttpVersion.HTTP_2;
        String cl = req.getHeader("Content-Length");
        boolean bodyMayFollow = !req.isEnded() && (req.getHeader("Transfer-Encoding") != null
                || (cl != null && !cl.trim().equals("0")));
        resp.setStatusCode(status)
                .putHeader("Content-Type", "application/json; charset=utf-8")
                .putHeader("Cache-Control", "no-store");
        if (bodyMayFollow && !h2) {
            resp.putHeader("Connection", "close");
        }
        resp.end(Json.write(body), ar -> {
            if (bodyMayFollow && !h2) {
                req.connection().close();
            }
        });
    }

    /** Whether a Host header names this server (see the class comment). */
    boolean hostAllowed(String hostHeader) {
        if (hostHeader == null || hostHeader.isBlank()) {
            return false;
        }
        String h = hostHeader.trim().toLowerCase(Locale.ROOT);
        String name;
        int hostPort = -1;
        if (h.startsWith("[")) {
            int close = h.indexOf(']');
            if (close < 0) {
                return false;
            }
            name = h.substring(1, close);
            String rest = h.substring(close + 1);
            if (!rest.isEmpty()) {
                if (!rest.startsWith(":")) {
                    return false;
                }
                hostPort = parsePort(rest.substring(1));
                if (hostPort < 0) {
                    return false;
                }
            }
        } else {
            int colon = h.lastIndexOf(':');
            if (colon >= 0) {
                if (h.indexOf(':') != colon) {
                    return false; // an unbracketed IPv6 literal is not a valid Host
                }
                name = h.substring(0, colon);
                hostPort = parsePort(h.substring(colon + 1));
                if (hostPort < 0) {
                    return false;
                }
            } else {
                name = h;
            }
        }
        int serverPort = port.getAsInt();
        if (hostPort == -1 ? serverPort != 80 : hostPort != serverPort) {
            return false;
        }
        if (name.endsWith(".")) {
            name = name.substring(0, name.length() - 1);
        }
        if (name.equals("localhost") || name.endsWith(".localhost") || allowedNames.contains(name)) {
            return true;
        }
        InetAddress ip = literal(name);
        if (ip == null) {
            return false;
        }
        return ip.isLoopbackAddress() || allowedAddresses.contains(ip);
    }

    private static int parsePort(String s) {
        if (s.isEmpty() || s.length() > 5 || !s.chars().allMatch(Character::isDigit)) {
            return -1;
        }
        int p = Integer.parseInt(s);
        return p > 0 && p <= 65535 ? p : -1;
    }

    /** The address of an IP literal (no DNS lookup), or null if {@code s} is not one. */
    static InetAddress literal(String s) {
        boolean v4 = IPV4.matcher(s).matches();
        boolean v6 = s.contains(":") && s.chars().allMatch(c -> Character.digit(c, 16) >= 0 || c == ':' || c == '.');
        if (!v4 && !v6) {
            return null;
        }
        if (v4) {
            for (String octet : s.split("\\.")) {
                if (Integer.parseInt(octet) > 255) {
                    return null; // not a literal: getByName would look it up in DNS
                }
            }
        }
        if (!v4 && HOST_NAME.matcher(s).matches()) {
            return null;
        }
        try {
            return InetAddress.getByName(s); // a literal: no lookup
        } catch (UnknownHostException e) {
            return null;
        }
    }

    private static String stripBrackets(String s) {
        return s.startsWith("[") && s.endsWith("]") ? s.substring(1, s.length() - 1) : s;
    }

    private static Set<InetAddress> interfaceAddresses() {
        Set<InetAddress> out = new LinkedHashSet<>();
        try {
            for (NetworkInterface ni : Collections.list(NetworkInterface.getNetworkInterfaces())) {
                out.addAll(Collections.list(ni.getInetAddresses()));
            }
        } catch (Exception e) {
            log.warn("Could not list this machine's addresses; only loopback names will be accepted in Host", e);
        }
        return out;
    }

    /** Whether the path, percent-decoded (repeatedly), has a {@code ..} segment. */
    static boolean hasDotDotSegment(String rawPath) {
        String p = rawPath;
        for (int round = 0; round < 3; round++) {
            if (dotDot(p)) {
                return true;
            }
            String d;
            try {
                d = URLDecoder.decode(p.replace("+", "%2B"), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                return true; // malformed escapes: treat as hostile
            }
            if (d.equals(p)) {
                return false;
            }
            p = d;
        }
        return dotDot(p);
    }

    private static boolean dotDot(String p) {
        for (String seg : p.replace('\\', '/').split("/", -1)) {
            if (seg.equals("..")) {
                return true;
            }
        }
        return false;
    }

    /**
     * Whether DL4J's {@code /assets/*} handler would find a regular file for
     * this path (it looks in the working directory, then the class path).
     * DL4J sends a missing file by never answering, so this is checked first.
     */
    static boolean assetExists(String path) {
        String rest = path.substring("/assets/".length());
        String resource = rest.contains("webjars")
                ? "META-INF/resources/" + rest.substring(rest.indexOf("webjars"))
                : "deeplearning4jUiAssets/" + (rest.startsWith("/") ? rest.substring(1) : rest);
        if (resource.endsWith("/") || resource.contains("//")) {
            return false;
        }
        File f = new File(resource);
        if (f.isFile()) {
            return true;
        }
        if (f.exists()) {
            return false;
        }
        URL url = WebGuard.class.getClassLoader().getResource(resource);
        if (url == null) {
            return false;
        }
        try {
            if ("file".equals(url.getProtocol())) {
                return new File(url.toURI()).isFile();
            }
            URLConnection c = url.openConnection();
            if (c instanceof JarURLConnection jc) {
                return jc.getJarEntry() != null && !jc.getJarEntry().isDirectory();
            }
            return true;
        } catch (Exception e) {
            return false;
        }
    }
}
