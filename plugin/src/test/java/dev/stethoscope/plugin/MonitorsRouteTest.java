package dev.stethoscope.plugin;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@code /stethoscope/api/monitors} lists the monitor types on the classpath (the example monitor of
 * the test sources included, found only through its ServiceLoader file), and
 * {@code /stethoscope/panels/<id>.js} serves exactly the script a monitor type declares.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class MonitorsRouteTest {
    StethoscopeUIServer server;
    final HttpClient http = HttpClient.newHttpClient();

    @BeforeAll
    void start() {
        server = StethoscopeUIServer.start("127.0.0.1", 0);
    }

    @AfterAll
    void stop() {
        server.close();
    }

    HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port() + path)).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    @Test
    void listsEveryMonitorTypeWithItsRecordsAndScript() throws Exception {
        HttpResponse<String> r = get("/stethoscope/api/monitors");
        assertThat(r.statusCode()).isEqualTo(200);
        assertThat(r.body()).contains("\"id\":\"weight-norms\"")
                .contains("\"typeId\":\"Example.WeightNorms\"")
                .contains("\"payload\":\"WeightNormRecord\"")
                .contains("\"script\":\"/stethoscope/panels/weight-norms.js\"");
    }

    @Test
    void servesDeclaredPanelScriptsOnly() throws Exception {
        HttpResponse<String> ok = get("/stethoscope/panels/weight-norms.js");
        assertThat(ok.statusCode()).isEqualTo(200);
        assertThat(ok.headers().firstValue("content-type")).hasValueSatisfying(v -> assertThat(v).contains("javascript"));
        assertThat(ok.body()).contains("registerPanel").contains("'weight-norms'");
        assertThat(get("/stethoscope/panels/no-such-monitor.js").statusCode()).isEqualTo(404);
        assertThat(get("/stethoscope/panels/weight-norms").statusCode()).isEqualTo(404);
        assertThat(get("/stethoscope/panels/..%2Fstethoscope.js").statusCode()).isEqualTo(404);
    }
}
