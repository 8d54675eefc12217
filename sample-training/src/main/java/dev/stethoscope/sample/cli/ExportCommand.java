package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.records.RecordReader;
import dev.stethoscope.listeners.records.RecordTypes;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.Monitors;
import dev.stethoscope.listeners.spi.RecordType;
import dev.stethoscope.plugin.Json;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Writes the Stethoscope records of a stored run for notebooks and scripts: every record (static
 * infos and updates of every session, type and worker), or those of one record type or monitor,
 * as JSON lines (one record's JSON, as the UI's routes serve it, per line) or CSV (one row per
 * record; the header and payload components as columns in order of first appearance, scalars as
 * they are, arrays, lists, maps and nested records as JSON text in their cell). Records that
 * cannot be decoded are skipped and logged, as on the page.
 */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Write the records of a stored run as JSON lines or CSV (every record, or one type).")
public final class ExportCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_FILE",
            description = "The run's stats file (FileStatsStorage, e.g. runs/<run>/stats.dl4j).")
    File runFile;

    @Option(names = "--type", paramLabel = "T",
            description = "Only records of this type: a record type id (e.g. Stethoscope.Health) or a monitor id "
                    + "(e.g. health: all its record types).")
    String type;

    @Option(names = "--format", defaultValue = "jsonl", paramLabel = "FORMAT",
            description = "jsonl or csv (default: ${DEFAULT-VALUE}).")
    String format;

    @Option(names = "--out", paramLabel = "F", description = "Output file (default: standard output).")
    File out;

    @Override
    public Integer call() throws Exception {
        String fmt = format.toLowerCase(Locale.ROOT);
        if (!fmt.equals("jsonl") && !fmt.equals("csv")) {
            throw new IllegalArgumentException("Unknown --format '" + format + "'. Valid: jsonl, csv");
        }
        Set<String> types = selectedTypes(type);
        FileStatsStorage storage = dev.stethoscope.plugin.StatsFiles.open(runFile);
        List<StethoscopeRecord> records;
        try {
            records = read(storage, types);
        } finally {
            storage.close();
        }
        if (out != null) {
            File parent = out.getAbsoluteFile().getParentFile();
            if (parent != null) {
                Files.createDirectories(parent.toPath());
            }
            try (Writer w = Files.newBufferedWriter(out.toPath(), StandardCharsets.UTF_8)) {
                write(w, records, fmt);
            }
            System.err.printf("Wrote %d record(s) to %s%n", records.size(), out);
        } else {
            PrintWriter w = new PrintWriter(new OutputStreamWriter(System.out, StandardCharsets.UTF_8));
            write(w, records, fmt);
            w.flush();
        }
        return 0;
    }

    /**
     * The payload type ids selected by {@code t}: every known one for null, else the type id or
     * the record types of the monitor with that id.
     *
     * @throws IllegalArgumentException listing the known type and monitor ids
     */
    static Set<String> selectedTypes(String t) {
        if (t == null) {
            return new LinkedHashSet<>(RecordTypes.typeIds());
        }
        if (RecordTypes.isKnown(t)) {
            return Set.of(t);
        }
        for (MonitorType m : Monitors.all()) {
            if (m.id().equals(t)) {
                Set<String> s = new LinkedHashSet<>();
                for (RecordType<?> r : m.recordTypes()) {
                    s.add(r.typeId());
                }
                return s;
            }
        }
        throw new IllegalArgumentException("Unknown record type '" + t + "'. Record types: " + RecordTypes.typeIds()
                + "; monitors: " + Monitors.all().stream().map(MonitorType::id).toList());
    }

    /** Every record of the storage whose payload type is in {@code types}, by session, storage type and time. */
    static List<StethoscopeRecord> read(FileStatsStorage storage, Set<String> types) {
        List<StethoscopeRecord> all = new ArrayList<>();
        for (String session : storage.listSessionIDs()) {
            for (String storageType : storage.listTypeIDsForSession(session)) {
                if (!RecordTypes.isKnown(storageType)) {
                    continue; // DL4J's own StatsListener records
                }
                List<StethoscopeRecord> some = new ArrayList<>(RecordReader.staticInfos(storage, session, storageType));
                some.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
                some.addAll(RecordReader.updates(storage, session, storageType, -1));
                for (StethoscopeRecord r : some) {
                    if (types.contains(r.getPayloadTypeID())) {
                        all.add(r);
                    }
                }
            }
        }
        return all;
    }

    static void write(Writer w, Collection<StethoscopeRecord> records, String format) throws IOException {
        if (format.equals("jsonl")) {
            for (StethoscopeRecord r : records) {
                w.write(Json.write(r.toJson()));
                w.write('\n');
            }
            return;
        }
        List<Map<String, Object>> rows = new ArrayList<>(records.size());
        Set<String> columns = new LinkedHashSet<>();
        for (StethoscopeRecord r : records) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("payloadType", r.getPayloadTypeID());
            m.putAll(r.toJson());
            rows.add(m);
            columns.addAll(m.keySet());
        }
        List<String> cols = List.copyOf(columns);
        w.write(String.join(",", cols.stream().map(ExportCommand::csvCell).toList()));
        w.write('\n');
        for (Map<String, Object> m : rows) {
            List<String> cells = new ArrayList<>(cols.size());
            for (String c : cols) {
                Object v = m.get(c);
                String text = v == null ? "" : v instanceof String s ? s : Json.write(v);
                cells.add(csvCell(text));
            }
            w.write(String.join(",", cells));
            w.write('\n');
        }
    }

    /** A CSV cell (RFC 4180): quoted when it holds a comma, quote, CR or LF; quotes doubled. */
    static String csvCell(String s) {
        if (s.indexOf(',') < 0 && s.indexOf('"') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
            return s;
        }
        return '"' + s.replace("\"", "\"\"") + '"';
    }
}
