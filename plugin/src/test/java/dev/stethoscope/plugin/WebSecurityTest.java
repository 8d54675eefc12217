package dev.stethoscope.plugin;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Adam;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.io.File;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The web surface's rules (see docs/security.md), checked over real HTTP
 * against the real server: java.net.http where it can send the request, raw
 * sockets for what it refuses to send (foreign Host, no Host, ".." paths,
 * lying or huge bodies).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class WebSecurityTest {
    /** Storage reads that decode records, counted per method for Stethoscope's types. */
    static final Set<String> DECODING = Set.of("getAllUpdatesAfter", "getUpdates", "getLatestUpdate",
            "getLatestUpdateAllWorkers", "getUpdate");

    StethoscopeUIServer server;
    InMemoryStatsStorage real;
    final Map<String, AtomicInteger> calls = new ConcurrentHashMap<>();
    volatile long slowMillis;
    String session;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void trainWithTheUiAttached() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
        real = new InMemoryStatsStorage();
        server.attach(countingView(real));
        MultiLayerNetwork net = new MultiLayerNetwork(new NeuralNetConfiguration.Builder()
                .seed(1).dataType(DataType.FLOAT).updater(new Adam(1e-2)).list()
                .layer(new DenseLayer.Builder().nIn(6).nOut(8).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nIn(8).nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .build());
        net.init();
        Nd4j.getRandom().setSeed(3);
        DataSet ds = new DataSet(Nd4j.rand(DataType.FLOAT, 128, 6), Nd4j.zeros(DataType.FLOAT, 128, 2));
        ds.getLabels().getColumn(0).assign(1);
        session = HealthListener.builder(net, real).schedule(Schedule.iterations(1)).attach().sessionId();
        net.fit(new ListDataSetIterator<>(ds.asList(), 16), 2); // 16 iterations + 2 epoch-end records
    }

    /**
     * The real storage seen through a proxy that counts the reads that decode
     * records of Stethoscope types and can make them slow.
     */
    StatsStorage countingView(StatsStorage target) {
        return (StatsStorage) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[]{StatsStorage.class},
                (proxy, m, args) -> {
                    switch (m.getName()) {
                        case "equals":
                            return proxy == args[0];
                        case "hashCode":
                            return System.identityHashCode(proxy);
                        case "toString":
                            return "counting view of " + target;
                        default:
                            break;
                    }
                    boolean stethoscopeType = args != null && args.length > 1 && args[1] instanceof String t
                            && t.startsWith("Stethoscope.");
                    if (stethoscopeType && (DECODING.contains(m.getName()) || m.getName().equals("getAllUpdateTimes"))) {
                        calls.computeIfAbsent(m.getName(), k -> new AtomicInteger()).incrementAndGet();
                        if (DECODING.contains(m.getName()) && slowMillis > 0) {
                            Thread.sleep(slowMillis);
                        }
                    }
                    try {
                        return m.invoke(target, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                });
    }

    int decodingCalls() {
        return DECODING.stream().mapToInt(n -> calls.getOrDefault(n, new AtomicInteger()).get()).sum();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
    }

    private String base() {
        return "http://127.0.0.1:" + server.port();
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(base() + path)).build(), HttpResponse.BodyHandlers.ofString());
    }

    private static int count(String json, String needle) {
        return json.split(Pattern.quote(needle), -1).length - 1;
    }

    @Test
    void hostHeaderMustNameThisServer() throws Exception {
        int port = server.port();
        String path = "/stethoscope/api/sessions";
        for (String ok : List.of("127.0.0.1:" + port, "localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port,
                "127.0.0.2:" + port, "app.localhost:" + port)) {
            RawHttp.Response r = RawHttp.get(port, path, ok);
            assertThat(r.status()).as("Host " + ok).isEqualTo(200);
            assertThat(r.body()).contains(session);
        }
        for (String bad : List.of("evil.example:" + port, "evil.example", "127.0.0.1", "127.0.0.1:" + (port + 1),
                "127.0.0.1.nip.io:" + port, "localhost.evil.example:" + port, "0.0.0.0:" + port,
                "10.0.0.1:" + port, "999.0.0.1:" + port, "::1:" + port, "")) {
            RawHttp.Response r = RawHttp.get(port, path, bad);
            assertThat(r.status()).as("Host '" + bad + "'").isEqualTo(403);
            assertThat(r.body()).as("nothing of the session leaks").doesNotContain(session).contains("is not this server");
        }
        assertThat(RawHttp.get(port, path, null).status()).as("no Host at all").isEqualTo(403);
        assertThat(RawHttp.send(port, "GET " + path + " HTTP/1.0", null, 5000).status()).as("HTTP/1.0 without Host")
                .isEqualTo(403);
        // DL4J's own pages are behind the same check
        assertThat(RawHttp.get(port, "/train/overview", "evil.example:" + port).status()).isEqualTo(403);
        assertThat(RawHttp.get(port, "/train/overview", "localhost:" + port).status()).isEqualTo(200);
        assertThat(RawHttp.get(port, "/stethoscope/api/records/" + session + "/" + Health.TYPE_ID,
                "rebind.evil.example:" + port).status()).isEqualTo(403);
    }

    @Test
    void everyResponseForbidsFramingAndSniffing() throws Exception {
        int port = server.port();
        String host = "127.0.0.1:" + port;
        List<RawHttp.Response> rs = List.of(
                RawHttp.get(port, "/stethoscope", host),                       // our page
                RawHttp.get(port, "/stethoscope/api/sessions", host),          // our JSON
                RawHttp.get(port, "/train/overview", host),                    // DL4J's page
                RawHttp.get(port, "/assets/webjars/echarts/5.3.1/dist/echarts.min.js", host), // DL4J's asset route
                RawHttp.get(port, "/no/such/page", host),                      // DL4J's 404
                RawHttp.get(port, "/stethoscope", "evil.example"));            // refused
        assertThat(rs).extracting(RawHttp.Response::status).containsExactly(200, 200, 200, 200, 404, 403);
        for (RawHttp.Response r : rs) {
            assertThat(r.header("X-Frame-Options")).as(r.status() + " response").isEqualTo("DENY");
            assertThat(r.header("X-Content-Type-Options")).isEqualTo("nosniff");
        }
    }

    @Test
    void dotDotPathsAndMissingAssetsAreAnswered404AtOnce() throws Exception {
        int port = server.port();
        String host = "127.0.0.1:" + port;
        for (String p : List.of("/assets/x/webjars/../../..", "/assets/webjars/../../../../etc/passwd",
                "/assets/webjars/%2e%2e/%2e%2e/%2e%2e/etc/passwd", "/assets/webjars/%252e%252e/x",
                "/assets/..%5c..%5cetc", "/stethoscope/static/../static/index.html", "/train/../stethoscope",
                "/assets/no-such-file.js", "/assets/webjars/echarts/5.3.1/dist/", "/assets/webjars/echarts/5.3.1/dist")) {
            // DL4J's asset handler never answers these: a 5 s socket timeout would fail the test
            RawHttp.Response r = RawHttp.send(port, "GET " + p + " HTTP/1.1\r\nHost: " + host, null, 5000);
            assertThat(r.status()).as(p).isEqualTo(404);
            assertThat(r.millis()).as(p).isLessThan(3000);
        }
    }

    /** Total bytes in the files under java.io.tmpdir/DL4JUI_* (DL4J's upload folders). */
    static long uploadBytes() throws Exception {
        long total = 0;
        File tmp = new File(System.getProperty("java.io.tmpdir"));
        File[] dirs = tmp.listFiles((d, n) -> n.startsWith("DL4JUI_"));
        for (File d : dirs == null ? new File[0] : dirs) {
            try (Stream<Path> s = Files.walk(d.toPath())) {
                total += s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
            }
        }
        return total;
    }

    @Test
    void uploadsAndLargeBodiesAreRefusedBeforeDl4jStoresThem() throws Exception {
        int port = server.port();
        long before = uploadBytes();
        long mb200 = 200L * 1024 * 1024;
        // a 200 MB multipart upload, to a DL4J path and to ours
        for (String path : List.of("/tsne/upload", "/stethoscope/api/sessions", "/remoteReceive")) {
            RawHttp.Upload u = RawHttp.upload(port, path, "multipart/form-data; boundary=xyz", mb200, mb200);
            assertThat(u.response().status()).as(path).isEqualTo(415);
            assertThat(u.bytesSent()).as("the server stopped reading long before 200 MB").isLessThan(mb200);
        }
        // 200 MB of anything else is over the body limit
        RawHttp.Upload big = RawHttp.upload(port, "/stethoscope/api/suspects/" + session + "/mark",
                "application/octet-stream", mb200, mb200);
        assertThat(big.response().status()).isEqualTo(413);
        assertThat(big.response().body()).contains(String.valueOf(WebGuard.MAX_BODY_BYTES));
        // a body of unknown length (chunked) is refused whatever it claims to be
        RawHttp.Upload chunked = RawHttp.upload(port, "/tsne/upload", "multipart/form-data; boundary=xyz", -1, mb200);
        assertThat(chunked.response().status()).isEqualTo(411);
        RawHttp.Upload chunkedJson = RawHttp.upload(port, "/remoteReceive", "application/json", -1, 8L << 20);
        assertThat(chunkedJson.response().status()).isEqualTo(411);
        assertThat(uploadBytes()).as("bytes in $TMP/DL4JUI_*").isEqualTo(before);

        // just over and just under the limit (the remote receiver is off: same limit there)
        String host = "127.0.0.1:" + port;
        byte[] over = new byte[(int) WebGuard.MAX_BODY_BYTES + 1];
        assertThat(RawHttp.send(port, "POST /remoteReceive HTTP/1.1\r\nHost: " + host
                + "\r\nContent-Type: application/json\r\nContent-Length: " + over.length, over, 5000).status())
                .isEqualTo(413);
        byte[] under = "{}".getBytes();
        assertThat(RawHttp.send(port, "POST /remoteReceive HTTP/1.1\r\nHost: " + host
                + "\r\nContent-Type: application/json\r\nContent-Length: " + under.length, under, 5000).status())
                .as("passes the guard; DL4J's receiver (disabled) answers").isEqualTo(403);
        // url-encoded form bodies (what a cross-site <form> sends) are refused too
        byte[] form = "index=1&given=0&decision=fine".getBytes();
        assertThat(RawHttp.send(port, "POST /stethoscope/api/suspects/" + session + "/mark HTTP/1.1\r\nHost: " + host
                + "\r\nX-Stethoscope-Request: 1\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: "
                + form.length, form, 5000).status()).isEqualTo(415);
    }

    @Test
    void refusalsLeaveTheClientsHttp2ConnectionUsable() throws Exception {
        // java.net.http multiplexes requests on one upgraded HTTP/2 connection: a refusal that closed
        // it made the next request fail or (seen under load) wait forever
        HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
        for (int i = 0; i < 20; i++) {
            HttpResponse<String> refused = h2.send(HttpRequest.newBuilder(URI.create(base()
                    + "/stethoscope/static/..%2F..%2Fstethoscope%2Fstatic%2Findex.html")).timeout(java.time.Duration.ofSeconds(10))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertThat(refused.statusCode()).isEqualTo(404);
            HttpResponse<String> ok = h2.send(HttpRequest.newBuilder(URI.create(base() + "/stethoscope/api/sessions"))
                    .timeout(java.time.Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
            assertThat(ok.statusCode()).isEqualTo(200);
            assertThat(ok.version()).isEqualTo(HttpClient.Version.HTTP_2);
        }
    }

    @Test
    void anHttp2BodyOfUndeclaredLengthIsCutAtTheLimit() throws Exception {
        HttpClient h2 = HttpClient.newBuilder().version(HttpClient.Version.HTTP_2).build();
        // the first request upgrades the connection to HTTP/2 (h2c), which Vert.x 3.9 always accepts
        HttpResponse<String> first = h2.send(HttpRequest.newBuilder(URI.create(base() + "/stethoscope/api/sessions")).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(first.statusCode()).isEqualTo(200);
        long before = uploadBytes();
        byte[] chunk = new byte[64 * 1024];
        java.util.concurrent.Flow.Publisher<java.nio.ByteBuffer> eightMb = HttpRequest.BodyPublishers.ofInputStream(
                () -> new java.io.InputStream() {
                    long left = 8L << 20;

                    @Override
                    public int read() {
                        return left-- > 0 ? 0 : -1;
                    }

                    @Override
                    public int read(byte[] b, int off, int len) {
                        if (left <= 0) {
                            return -1;
                        }
                        int n = (int) Math.min(Math.min(len, chunk.length), left);
                        left -= n;
                        return n;
                    }
                });
        int status;
        HttpClient.Version version = null;
        try {
            // no Content-Length: over HTTP/2 the body's length is known only as it arrives
            HttpResponse<String> r = h2.send(HttpRequest.newBuilder(URI.create(base() + "/remoteReceive"))
                            .header("Content-Type", "application/json")
                            .POST(HttpRequest.BodyPublishers.fromPublisher(eightMb)).build(),
                    HttpResponse.BodyHandlers.ofString());
            status = r.statusCode();
            version = r.version();
        } catch (java.io.IOException closedByServer) {
            status = -1; // the server may close before the client reads the 413
        }
        // DL4J's receiver (disabled) would answer 403 after reading the whole body
        assertThat(status).as("HTTP version " + version).isIn(413, -1);
        if (version != null) {
            assertThat(version).isEqualTo(HttpClient.Version.HTTP_2);
        }
        assertThat(uploadBytes()).isEqualTo(before);
    }

    @Test
    void stateChangingRequestsNeedSameOriginAndTheCustomHeader() throws Exception {
        int port = server.port();
        String host = "127.0.0.1:" + port;
        String mark = "POST /stethoscope/api/suspects/" + session + "/mark?index=1&given=0&decision=fine HTTP/1.1\r\nHost: "
                + host + "\r\nContent-Length: 0";
        RawHttp.Response noHeader = RawHttp.send(port, mark, null, 5000);
        assertThat(noHeader.status()).isEqualTo(403);
        assertThat(noHeader.body()).contains(WebGuard.CSRF_HEADER);
        RawHttp.Response evil = RawHttp.send(port, mark + "\r\nX-Stethoscope-Request: 1\r\nOrigin: https://evil.example",
                null, 5000);
        assertThat(evil.status()).isEqualTo(403);
        assertThat(evil.body()).contains("evil.example");
        assertThat(RawHttp.send(port, mark + "\r\nX-Stethoscope-Request: 1\r\nOrigin: null", null, 5000).status())
                .isEqualTo(403);
        assertThat(RawHttp.send(port, mark + "\r\nX-Stethoscope-Request: 1\r\nOrigin: http://localhost:" + port, null, 5000)
                .status()).as("another loopback origin is another origin").isEqualTo(403);
        assertThat(RawHttp.send(port, mark + "\r\nX-Stethoscope-Request: 1\r\nSec-Fetch-Site: cross-site", null, 5000)
                .status()).isEqualTo(403);
        // same origin with the header passes the guard; this session has no suspect table yet: a clear 409
        RawHttp.Response noTable = RawHttp.send(port, mark + "\r\nX-Stethoscope-Request: 1\r\nOrigin: http://" + host
                + "\r\nSec-Fetch-Site: same-origin", null, 5000);
        assertThat(noTable.status()).isEqualTo(409);
        assertThat(noTable.body()).contains("no suspect table yet");
        // the same through java.net.http (no Origin, as a script or curl would send)
        HttpResponse<String> viaClient = http.send(HttpRequest.newBuilder(URI.create(base()
                        + "/stethoscope/api/suspects/" + session + "/mark?index=1&given=0&decision=fine"))
                .header(WebGuard.CSRF_HEADER, "1").POST(HttpRequest.BodyPublishers.noBody()).build(),
                HttpResponse.BodyHandlers.ofString());
        assertThat(viaClient.statusCode()).isEqualTo(409);
        // DL4J's remote receiver is exempt from the header, not from the Origin rule
        RawHttp.Response remote = RawHttp.send(port, "POST /remoteReceive HTTP/1.1\r\nHost: " + host
                + "\r\nOrigin: https://evil.example\r\nContent-Length: 0", null, 5000);
        assertThat(remote.status()).isEqualTo(403);
        assertThat(remote.body()).contains("cross-origin request");
    }

    @Test
    void listRoutesArePagedAndCapped() throws Exception {
        String url = "/stethoscope/api/records/" + session + "/" + Health.TYPE_ID;
        HttpResponse<String> all = get(url);
        assertThat(count(all.body(), "\"type\":\"Stethoscope.Health\"")).isEqualTo(18);
        assertThat(all.headers().firstValue(StethoscopeModule.TRUNCATED_HEADER)).hasValue("false");
        // pages of 5 joined give the same records in the same order
        List<Long> paged = new ArrayList<>();
        long after = -1;
        int pages = 0;
        while (true) {
            HttpResponse<String> r = get(url + "?limit=5&after=" + after);
            List<Long> ts = timestamps(r.body());
            pages++;
            assertThat(ts.size()).isLessThanOrEqualTo(5);
            paged.addAll(ts);
            if (r.headers().firstValue(StethoscopeModule.TRUNCATED_HEADER).orElseThrow().equals("false")) {
                break;
            }
            after = ts.get(ts.size() - 1);
        }
        assertThat(pages).isEqualTo(4);
        assertThat(paged).isEqualTo(timestamps(all.body())).isSorted().doesNotHaveDuplicates();
        assertThat(get(url + "?limit=0").statusCode()).isEqualTo(400);
        assertThat(get(url + "?limit=abc").body()).contains("limit must be a positive integer");

        // the cap: 1005 error records in another session
        String big = "cap-test-session";
        for (int i = 0; i < 1005; i++) {
            StethoscopeRecord e = StethoscopeRecord.of(MonitorError.of("cap-test", "test",
                    new IllegalStateException("record " + i)));
            e.setKey(big, "w", 1_000_000L + i, 0, i);
            if (i == 0) {
                real.putStaticInfo(e);
            }
            real.putUpdate(e);
        }
        String errs = "/stethoscope/api/records/" + big + "/" + MonitorError.TYPE_ID;
        for (String q : List.of("", "?limit=5000", "?limit=1000")) {
            HttpResponse<String> r = get(errs + q);
            assertThat(timestamps(r.body())).as(q).hasSize(StethoscopeModule.MAX_LIMIT);
            assertThat(r.headers().firstValue(StethoscopeModule.TRUNCATED_HEADER)).hasValue("true");
        }
        HttpResponse<String> rest = get(errs + "?after=" + (1_000_000L + 999));
        assertThat(timestamps(rest.body())).containsExactly(1_001_000L, 1_001_001L, 1_001_002L, 1_001_003L, 1_001_004L);
        HttpResponse<String> newest = get("/stethoscope/api/sessions?limit=1");
        assertThat(newest.body()).as("the most recently updated session is kept").contains(session).doesNotContain(big);
        assertThat(newest.headers().firstValue(StethoscopeModule.TRUNCATED_HEADER)).hasValue("true");
    }

    static List<Long> timestamps(String json) {
        List<Long> out = new ArrayList<>();
        Matcher m = Pattern.compile("\"timestamp\":(\\d+)").matcher(json);
        while (m.find()) {
            out.add(Long.parseLong(m.group(1)));
        }
        return out;
    }

    @Test
    void unchangedSessionsCostNoDecoding() throws Exception {
        String url = "/stethoscope/api/records/" + session + "/" + Health.TYPE_ID;
        List<Long> ts = timestamps(get(url).body());
        long last = ts.get(ts.size() - 1);
        calls.clear();
        for (int i = 0; i < 5; i++) {
            HttpResponse<String> sessions = get("/stethoscope/api/sessions");
            assertThat(sessions.body()).contains("\"lastUpdate\":" + last);
            HttpResponse<String> none = get(url + "?after=" + last);
            assertThat(none.body()).isEqualTo("[]");
        }
        assertThat(calls).as("storage reads of Stethoscope records while nothing changed").isEmpty();
        // a poll from the middle decodes only what it returns
        HttpResponse<String> tail = get(url + "?after=" + ts.get(ts.size() - 4));
        assertThat(timestamps(tail.body())).hasSize(3);
        assertThat(calls.get("getUpdates").get()).isEqualTo(1); // one worker
        assertThat(decodingCalls()).isEqualTo(1);
    }

    @Test
    void storageReadsDoNotBlockTheEventLoop() throws Exception {
        slowMillis = 3000;
        try {
            CompletableFuture<HttpResponse<String>> slow = http.sendAsync(HttpRequest.newBuilder(URI.create(base()
                            + "/stethoscope/api/records/" + session + "/" + Health.TYPE_ID)).build(),
                    HttpResponse.BodyHandlers.ofString());
            Thread.sleep(300); // the slow read is under way
            long t0 = System.nanoTime();
            HttpResponse<String> page = get("/stethoscope/static/stethoscope.js");
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertThat(page.statusCode()).isEqualTo(200);
            assertThat(slow).isNotDone();
            assertThat(ms).as("a page served while a storage read takes 3 s").isLessThan(1500);
            assertThat(slow.get().statusCode()).isEqualTo(200);
        } finally {
            slowMillis = 0;
        }
    }

    @Test
    void bindingBeyondLoopbackWarns() {
        assertThat(StethoscopeUIServer.exposureWarning("127.0.0.1", 9000)).isNull();
        assertThat(StethoscopeUIServer.exposureWarning("localhost", 9000)).isNull();
        assertThat(StethoscopeUIServer.exposureWarning("::1", 9000)).isNull();
        for (String b : List.of("0.0.0.0", "192.168.1.20", "::", "myhost.lan")) {
            assertThat(StethoscopeUIServer.exposureWarning(b, 9000)).as(b)
                    .contains("NOT loopback-only").contains(b + ":9000").contains("127.0.0.1").contains("ssh -L 9000:127.0.0.1:9000");
        }
    }
}
