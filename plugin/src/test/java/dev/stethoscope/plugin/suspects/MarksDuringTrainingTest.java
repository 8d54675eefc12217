package dev.stethoscope.plugin.suspects;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.health.HealthListener;
import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.Suspects;
import dev.stethoscope.plugin.StethoscopeUIServer;
import dev.stethoscope.plugin.WebGuard;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.ui.model.stats.StatsListener;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Suspect marks POSTed through the UI while a real training writes the same
 * FileStatsStorage (the TrainingDynamicsListener, a HealthListener sampling
 * every iteration and DL4J's own StatsListener): after training, the file is
 * reopened and every accepted mark and every training record is in it. Marks
 * posted before the first suspect table exists are refused with 409.
 */
class MarksDuringTrainingTest {
    static final long[] FLIPPED = {5, 30, 61, 90, 117};

    static int givenLabel(int i) {
        int c = i % 2;
        return Arrays.binarySearch(FLIPPED, i) >= 0 ? 1 - c : c;
    }

    @Test
    void everyMarkAndEveryTrainingRecordSurvive(@TempDir File dir) throws Exception {
        int epochs = 12;
        int n = 200; // 10 minibatches of 20 an epoch
        File file = new File(dir, "stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(file);
        StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0);
        server.attach(storage);
        HttpClient http = HttpClient.newHttpClient();
        AtomicReference<String> session = new AtomicReference<>();
        AtomicReference<String> dl4jSession = new AtomicReference<>();
        AtomicReference<Throwable> trainingFailure = new AtomicReference<>();
        Thread training = new Thread(() -> {
            try {
                session.set(SuspectsPageTest.train(storage, epochs, n, 20, net -> {
                    HealthListener.builder(net, storage).schedule(Schedule.iterations(1)).attach();
                    StatsListener dl4j = new StatsListener(storage, null, null, "dl4j-session", null);
                    dl4jSession.set("dl4j-session");
                    net.addListeners(dl4j);
                }));
            } catch (Throwable t) {
                trainingFailure.set(t);
            }
        }, "training");
        List<Long> accepted = new ArrayList<>();
        int refusedBeforeTable = 0;
        int postedWhileTraining = 0;
        int dl4jUpdates = -1;
        try {
            training.start();
            String sid = null;
            long deadline = System.currentTimeMillis() + 120_000;
            while (sid == null && training.isAlive() && System.currentTimeMillis() < deadline) {
                String body = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                        + "/stethoscope/api/sessions")).build(), HttpResponse.BodyHandlers.ofString()).body();
                Matcher m = Pattern.compile("\"sessionId\":\"(stethoscope-[^\"]+)\"").matcher(body);
                if (m.find()) {
                    sid = m.group(1);
                } else {
                    Thread.sleep(20);
                }
            }
            assertThat(sid).as("the session appears while training runs").isNotNull();
            int k = 0;
            while (training.isAlive()) {
                int index = (k * 37) % n;
                int given = givenLabel(index);
                String decision = SuspectMark.DECISIONS.get(k % SuspectMark.DECISIONS.size());
                String q = "?index=" + index + "&given=" + given + "&decision=" + decision
                        + (decision.equals("mislabeled") ? "&corrected=" + (1 - given) : "");
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + server.port()
                                + "/stethoscope/api/suspects/" + sid + "/mark" + q))
                        .header(WebGuard.CSRF_HEADER, "1").POST(HttpRequest.BodyPublishers.noBody()).build(),
                        HttpResponse.BodyHandlers.ofString());
                boolean stillTraining = training.isAlive();
                if (r.statusCode() == 409) {
                    assertThat(accepted).as("refused only before the first table").isEmpty();
                    assertThat(r.body()).contains("no suspect table yet");
                    refusedBeforeTable++;
                    Thread.sleep(5);
                    continue;
                }
                assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
                Matcher ts = Pattern.compile("\"timestamp\":(\\d+)").matcher(r.body());
                assertThat(ts.find()).isTrue();
                accepted.add(Long.parseLong(ts.group(1)));
                if (stillTraining) {
                    postedWhileTraining++;
                }
                k++;
            }
            training.join();
            dl4jUpdates = storage.getNumUpdateRecordsFor(dl4jSession.get());
        } finally {
            training.join(300_000);
            server.close();
            storage.close();
        }
        System.out.printf("Marks: %d refused before the first table, %d accepted (%d while training wrote)%n",
                refusedBeforeTable, accepted.size(), postedWhileTraining);
        assertThat(trainingFailure.get()).isNull();
        assertThat(refusedBeforeTable).as("marks posted before the first suspect table").isPositive();
        assertThat(postedWhileTraining).as("marks accepted while training was writing").isGreaterThanOrEqualTo(20);

        FileStatsStorage reopened = new FileStatsStorage(file);
        try {
            String sid = session.get();
            Set<Long> stored = new HashSet<>();
            for (Persistable p : reopened.getAllUpdatesAfter(sid, SuspectMark.TYPE_ID, -1)) {
                stored.add(p.getTimeStamp());
            }
            assertThat(stored).as("every accepted mark, and nothing else").containsExactlyInAnyOrderElementsOf(accepted);
            int iterations = epochs * (n / 20);
            // one record per iteration plus one at each epoch end
            assertThat(reopened.getAllUpdatesAfter(sid, Health.TYPE_ID, -1)).hasSize(iterations + epochs);
            assertThat(reopened.getAllUpdatesAfter(sid, Suspects.TYPE_ID, -1)).hasSize(epochs);
            assertThat(SuspectExport.latestTable(reopened, sid).tableEpoch()).as("0-based last epoch").isEqualTo(epochs - 1);
            // DL4J's StatsListener (its own reporting schedule): what it had stored when training ended
            assertThat(dl4jUpdates).isPositive();
            assertThat(reopened.getNumUpdateRecordsFor(dl4jSession.get())).isEqualTo(dl4jUpdates);
        } finally {
            reopened.close();
        }
    }
}
