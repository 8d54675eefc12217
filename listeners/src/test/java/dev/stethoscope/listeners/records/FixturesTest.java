package dev.stethoscope.listeners.records;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The forward-compatibility guard: payload bytes written by earlier versions (committed hex in
 * {@code src/test/resources/records/fixtures-v*.txt}, one line per type: type id, the component
 * names at the time, the hex of {@link SamplePayloads}' payload) must still decode, with every
 * component they had equal to today's sample and any component added since filled with its
 * default. Never edit a fixture file; when a payload gains a component, add a new fixture file
 * (run with {@code -Dstethoscope.writeFixtures=PATH} to write the current encodings).
 */
class FixturesTest {
    static final List<String> FILES = List.of("records/fixtures-v1.txt", "records/fixtures-v2.txt",
            "records/fixtures-v3.txt", "records/fixtures-v4.txt", "records/fixtures-v5.txt");

    @Test
    void everyCommittedFixtureStillDecodes() throws IOException {
        Map<String, Record> samples = SamplePayloads.all();
        Set<String> covered = new TreeSet<>();
        for (String file : FILES) {
            for (String line : lines(file)) {
                String[] f = line.split("\\|");
                String type = f[0];
                List<String> components = List.of(f[1].split(","));
                byte[] bytes = HexFormat.of().parseHex(f[2]);
                // append-only: the components at the time are still the first ones, in their order
                List<String> now = PayloadCodec.componentNames(RecordTypes.payloadClass(type));
                assertThat(now.subList(0, Math.min(now.size(), components.size())))
                        .as(type + ": components may only be appended (never removed, renamed or reordered)")
                        .isEqualTo(components);
                Record decoded = PayloadCodec.decode(bytes, RecordTypes.payloadClass(type));
                Map<String, Object> got = PayloadCodec.toJson(decoded);
                Map<String, Object> want = PayloadCodec.toJson(samples.get(type));
                assertThat(got.keySet()).as(type).containsAll(components);
                for (String c : components) {
                    assertThat(got.get(c)).as(type + "." + c + " from " + file).isEqualTo(want.get(c));
                }
                covered.add(type);
            }
        }
        assertThat(covered).as("every built-in type has a fixture").containsAll(RecordTypes.typeIds());
    }

    @Test
    void theCurrentEncodingOfASampleEqualsItsNewestFixtureWhileItsComponentsAreUnchanged() throws IOException {
        Map<String, String> newest = new LinkedHashMap<>();
        Map<String, String> names = new LinkedHashMap<>();
        for (String file : FILES) {
            for (String line : lines(file)) {
                String[] f = line.split("\\|");
                newest.put(f[0], f[2]);
                names.put(f[0], f[1]);
            }
        }
        SamplePayloads.all().forEach((type, p) -> {
            if (String.join(",", PayloadCodec.componentNames(p.getClass())).equals(names.get(type))) {
                assertThat(HexFormat.of().formatHex(PayloadCodec.encode(p))).as(type).isEqualTo(newest.get(type));
            }
        });
        String out = System.getProperty("stethoscope.writeFixtures");
        if (out != null) {
            List<String> lines = new ArrayList<>();
            SamplePayloads.all().forEach((type, p) -> lines.add(type + "|"
                    + String.join(",", PayloadCodec.componentNames(p.getClass())) + "|"
                    + HexFormat.of().formatHex(PayloadCodec.encode(p))));
            Files.write(Path.of(out), lines, StandardCharsets.UTF_8);
        }
    }

    private static List<String> lines(String resource) throws IOException {
        try (InputStream in = FixturesTest.class.getClassLoader().getResourceAsStream(resource)) {
            assertThat(in).as(resource).isNotNull();
            List<String> out = new ArrayList<>();
            for (String l : new String(in.readAllBytes(), StandardCharsets.UTF_8).split("\n")) {
                if (!l.isBlank() && !l.startsWith("#")) {
                    out.add(l.trim());
                }
            }
            return out;
        }
    }
}
