package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.Health;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.RunInfo;
import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.shade.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The export command on a run written by a real short training on a slice of MNIST. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ExportCommandTest {
    Path tmp;
    Path stats;
    String session;
    /** Records per payload type id, counted with the storage's own reader. */
    final Map<String, Integer> counts = new HashMap<>();

    @BeforeAll
    void train(@TempDir Path dir) {
        tmp = dir;
        MnistData mnist = MnistFixture.mnist();
        Path run = tmp.resolve("run");
        int code = Main.run("train", "--train-limit", "512", "--test-limit", "300", "--epochs", "1",
                "--no-ui", "--health-every", "2", "--probe-examples", "200", "--similarity-examples", "200",
                "--csr-examples", "20", "--data", mnist.directory().toString(), "--out", run.toString());
        assertThat(code).isZero();
        stats = run.resolve("stats.dl4j");
        FileStatsStorage storage = new FileStatsStorage(stats.toFile());
        try {
            session = TrainAndViewTest.sessionOf(storage, "run");
            for (String s : storage.listSessionIDs()) {
                for (String type : storage.listTypeIDsForSession(s)) {
                    if (RecordTypes.isKnown(type)) {
                        RecordReader.staticInfos(storage, s, type)
                                .forEach(r -> counts.merge(r.getPayloadTypeID(), 1, Integer::sum));
                        RecordReader.updates(storage, s, type, -1)
                                .forEach(r -> counts.merge(r.getPayloadTypeID(), 1, Integer::sum));
                    }
                }
            }
        } finally {
            storage.close();
        }
        assertThat(counts.get(Health.TYPE_ID)).isPositive();
        assertThat(counts.get(Memorization.TYPE_ID)).isPositive();
    }

    @Test
    void jsonLinesHoldEveryRecordToStandardOutput() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        int code;
        try {
            code = Main.run("export", stats.toString());
        } finally {
            System.setOut(old);
        }
        assertThat(code).isZero();
        String[] lines = buf.toString(StandardCharsets.UTF_8).split("\n");
        ObjectMapper json = new ObjectMapper();
        Map<String, Integer> seen = new HashMap<>();
        int runInfos = 0;
        for (String l : lines) {
            @SuppressWarnings("unchecked")
            Map<String, Object> m = json.readValue(l, Map.class);
            assertThat(m).containsKeys("type", "sessionId", "workerId", "timestamp", "epoch", "iteration");
            if (m.containsKey("modelClass")) {
                runInfos++;
            } else {
                seen.merge((String) m.get("type"), 1, Integer::sum);
            }
        }
        int total = counts.values().stream().mapToInt(Integer::intValue).sum();
        assertThat(lines).hasSize(total);
        assertThat(runInfos).isEqualTo(counts.get(RunInfo.TYPE_ID));
        assertThat(seen.get(Health.TYPE_ID)).isEqualTo(counts.get(Health.TYPE_ID));
    }

    @Test
    void csvOfOneMonitorHasOneQuotedRowPerRecord() throws Exception {
        Path out = tmp.resolve("out/health.csv");
        assertThat(Main.run("export", stats.toString(), "--type", "health", "--format", "csv", "--out",
                out.toString())).isZero();
        List<List<String>> rows = parseCsv(Files.readString(out));
        List<String> header = rows.get(0);
        assertThat(header).startsWith("payloadType", "type", "sessionId", "workerId", "timestamp", "epoch",
                "iteration", "source", "layers", "activationMean");
        assertThat(rows).hasSize(1 + counts.get(Health.TYPE_ID));
        int source = header.indexOf("source");
        int layers = header.indexOf("layers");
        for (List<String> r : rows.subList(1, rows.size())) {
            assertThat(r).hasSize(header.size());
            assertThat(r.get(0)).isEqualTo(Health.TYPE_ID);
            assertThat(r.get(source)).isIn("train-batch", "probe-batch");
            List<?> names = new ObjectMapper().readValue(r.get(layers), List.class); // an array as JSON text
            assertThat(names).isNotEmpty();
        }
        // by type id: the same rows
        Path byId = tmp.resolve("health-by-id.csv");
        assertThat(Main.run("export", stats.toString(), "--type", Health.TYPE_ID, "--format", "csv", "--out",
                byId.toString())).isZero();
        assertThat(Files.readString(byId)).isEqualTo(Files.readString(out));
    }

    @Test
    void unknownTypesFormatsAndMissingFilesFailClearly() {
        assertThatThrownBy(() -> ExportCommand.selectedTypes("nope")).hasMessageContaining("'nope'")
                .hasMessageContaining(Health.TYPE_ID).hasMessageContaining("memorization");
        assertThat(Main.run("export", stats.toString(), "--type", "nope")).isEqualTo(1);
        assertThat(Main.run("export", stats.toString(), "--format", "xml")).isEqualTo(1);
        assertThat(Main.run("export", tmp.resolve("missing.dl4j").toString())).isEqualTo(1);
        assertThat(ExportCommand.selectedTypes("memorization")).containsExactlyInAnyOrder(Memorization.TYPE_ID,
                "Stethoscope.LossSensitivity");
    }

    @Test
    void csvCellsAreQuotedAsRfc4180Says() {
        assertThat(ExportCommand.csvCell("plain")).isEqualTo("plain");
        assertThat(ExportCommand.csvCell("a,b")).isEqualTo("\"a,b\"");
        assertThat(ExportCommand.csvCell("say \"hi\"")).isEqualTo("\"say \"\"hi\"\"\"");
        assertThat(ExportCommand.csvCell("two\nlines")).isEqualTo("\"two\nlines\"");
        assertThat(parseCsv("x,\"a,\"\"b\"\"\",\"l1\nl2\"\n")).containsExactly(List.of("x", "a,\"b\"", "l1\nl2"));
    }

    /** A small RFC 4180 reader (quoted cells with commas, doubled quotes and line breaks). */
    static List<List<String>> parseCsv(String text) {
        List<List<String>> rows = new ArrayList<>();
        List<String> row = new ArrayList<>();
        StringBuilder cell = new StringBuilder();
        boolean quoted = false;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (quoted) {
                if (c == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                    cell.append('"');
                    i++;
                } else if (c == '"') {
                    quoted = false;
                } else {
                    cell.append(c);
                }
            } else if (c == '"') {
                quoted = true;
            } else if (c == ',') {
                row.add(cell.toString());
                cell.setLength(0);
            } else if (c == '\n') {
                row.add(cell.toString());
                cell.setLength(0);
                rows.add(row);
                row = new ArrayList<>();
            } else {
                cell.append(c);
            }
        }
        return rows;
    }
}
