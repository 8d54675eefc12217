package dev.stethoscope.plugin;

import dev.stethoscope.listeners.records.AssertionFinding;
import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

import java.io.File;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Records stored after a newer one was read (a Spark worker's batch returned at the end of an
 * averaging round, a remote router with a lagging clock) still reach a page that follows the run:
 * the page reads by arrival cursor, not by timestamp.
 */
class LateRecordsTest {
    private static final String SESSION = "late-session";

    private static StethoscopeRecord error(String worker, long time, String message) {
        StethoscopeRecord r = StethoscopeRecord.of(MonitorError.of("late-test", "test", new IllegalStateException(message)));
        r.setKey(SESSION, worker, time, 0, time);
        return r;
    }

    private static StethoscopeRecord finding(String worker, long time, String detector) {
        StethoscopeRecord r = StethoscopeRecord.of(new AssertionFinding(detector, "WARNING", detector + " fired", "step",
                1, 2, false, "record"));
        r.setKey(SESSION, worker, time, 0, time);
        return r;
    }

    private static List<String> messages(List<StethoscopeRecord> rs) {
        List<String> out = new ArrayList<>();
        for (StethoscopeRecord r : rs) {
            out.add(r.payload(MonitorError.class).message());
        }
        return out;
    }

    @Test
    void aRecordStoredLateWithAnOlderTimestampIsReadOnceAfterTheCursor() {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        StethoscopeRecord first = error("driver", 2_000, "driver-2000");
        storage.putStaticInfo(first);
        storage.putUpdate(first);
        storage.putUpdate(error("driver", 3_000, "driver-3000"));
        StorageAccess access = new StorageAccess();
        access.attach(storage);

        StorageAccess.CursorPage p1 = access.pageSince(SESSION, MonitorError.TYPE_ID, 0, 1000);
        assertThat(messages(p1.records())).containsExactly("driver-2000", "driver-3000");
        assertThat(p1.next()).isEqualTo(2);

        // a worker's batch arrives now, stamped before everything already read
        StethoscopeRecord late = error("worker-1", 1_000, "worker-1000");
        storage.putStaticInfo(late);
        storage.putUpdate(List.of(late, error("worker-1", 1_500, "worker-1500")));
        // by timestamp it is lost to a reader that has seen 3000...
        assertThat(access.page(SESSION, MonitorError.TYPE_ID, 3_000, 1000).records()).isEmpty();
        // ...by arrival it is not, and nothing is read twice
        StorageAccess.CursorPage p2 = access.pageSince(SESSION, MonitorError.TYPE_ID, p1.next(), 1000);
        assertThat(messages(p2.records())).containsExactly("worker-1000", "worker-1500");
        assertThat(p2.next()).isEqualTo(4);
        assertThat(access.pageSince(SESSION, MonitorError.TYPE_ID, 4, 1000).records()).isEmpty();

        // small pages walk every record exactly once
        List<String> walked = new ArrayList<>();
        int cursor = 0;
        StorageAccess.CursorPage p;
        do {
            p = access.pageSince(SESSION, MonitorError.TYPE_ID, cursor, 3);
            walked.addAll(messages(p.records()));
            cursor = p.next();
        } while (p.truncated());
        assertThat(walked).containsExactly("driver-2000", "driver-3000", "worker-1000", "worker-1500");

        // a cursor beyond what the server knows (it started over after a detach) answers 0
        assertThat(access.pageSince(SESSION, MonitorError.TYPE_ID, 99, 10).next()).isZero();
    }

    @Test
    void aStoredRunIsReadInTimeOrderAcrossWorkers(@TempDir Path dir) {
        File f = dir.resolve("run.dl4j").toFile();
        FileStatsStorage w = new FileStatsStorage(f);
        StethoscopeRecord a = error("a", 5_000, "a-5000");
        StethoscopeRecord b = error("b", 4_000, "b-4000");
        w.putStaticInfo(a);
        w.putStaticInfo(b);
        w.putUpdate(a);
        w.putUpdate(b);
        w.putUpdate(error("a", 6_000, "a-6000"));
        w.close();

        FileStatsStorage r = new FileStatsStorage(f);
        try {
            StorageAccess access = new StorageAccess();
            access.attach(r);
            StorageAccess.CursorPage p = access.pageSince(SESSION, MonitorError.TYPE_ID, 0, 1000);
            assertThat(messages(p.records())).containsExactly("b-4000", "a-5000", "a-6000");
            assertThat(p.truncated()).isFalse();
        } finally {
            r.close();
        }
    }

    /** What a browser test does on the page, given the driver and a 30 s wait. */
    private interface PageSteps {
        void run(ChromeDriver d, WebDriverWait wait);
    }

    /**
     * Stores {@code first} (with its static info), serves the storage and opens the page at {@code #panel} in
     * Chromium; {@code late} is stored (with its static info) when {@code shown} holds, then {@code then} runs.
     */
    private static void lateOnThePage(StethoscopeRecord first, String panel, java.util.function.Predicate<ChromeDriver> shown,
                                      StethoscopeRecord late, PageSteps then) throws Exception {
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        storage.putStaticInfo(first);
        storage.putUpdate(first);
        try (StethoscopeUIServer server = StethoscopeUIServer.start("127.0.0.1", 0)) {
            server.attach(storage);
            ChromeDriver d = Browser.start();
            try {
                WebDriverWait wait = new WebDriverWait(d, Duration.ofSeconds(30));
                d.get("http://127.0.0.1:" + server.port() + "/stethoscope#" + panel);
                wait.until(x -> shown.test(d));
                storage.putStaticInfo(late);
                storage.putUpdate(late);
                then.run(d, wait);
            } finally {
                d.quit();
            }
        }
    }

    @Test
    void theLivePageShowsARecordThatArrivesLateWithAnOlderTimestamp() throws Exception {
        lateOnThePage(error("driver", 20_000, "driver record"), "errors",
                d -> d.findElements(By.cssSelector("#errors-list tr.error-row")).size() == 1,
                error("worker-1", 10_000, "late worker record"), (d, wait) -> {
                    wait.until(x -> x.findElements(By.cssSelector("#errors-list tr.error-row")).size() == 2);
                    // shown by time (newest first), each once
                    List<String> rows = new ArrayList<>();
                    d.findElements(By.cssSelector("#errors-list tr.error-row summary")).forEach(e -> rows.add(e.getText()));
                    assertThat(rows).containsExactly("driver record", "late worker record");
                });
    }

    @Test
    void theHeaderCountsAnAssertionFindingThatArrivesLateWithAnOlderTimestamp() throws Exception {
        lateOnThePage(finding("driver", 20_000, "driver-detector"), "errors",
                d -> "1 assertion fired".equals(d.findElement(By.id("assertion-summary")).getText()),
                finding("worker-1", 10_000, "worker-detector"), (d, wait) -> {
                    wait.until(x -> "2 assertions fired".equals(x.findElement(By.id("assertion-summary")).getText()));
                    assertThat(d.findElement(By.id("assertion-summary")).getAttribute("title"))
                            .isEqualTo("driver-detector, worker-detector");
                });
    }
}
