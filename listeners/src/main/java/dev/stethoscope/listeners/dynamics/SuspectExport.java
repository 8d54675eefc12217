package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.SuspectTable;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import dev.stethoscope.listeners.core.Timestamps;

import java.io.IOException;
import java.io.Writer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Reads suspects and the user's marks from a run's StatsStorage and writes
 * them as CSV (used by the Suspects page's export and the {@code suspects}
 * command).
 *
 * <p>CSV columns: {@value #HEADER}. One row per training example of the full
 * table ({@link SuspectTable}), sorted by the combined score, most
 * suspicious first (never-observed examples last, by index). {@code flipped} is
 * 1/0 when the run knows its injected noise, empty otherwise; {@code mark} is
 * the latest decision ("mislabeled" or "fine", empty when unmarked) and
 * {@code corrected} the corrected label of a "mislabeled" mark. Numbers use a
 * dot as decimal separator; missing values are empty.
 */
public final class SuspectExport {
    /** The CSV header line. */
    public static final String HEADER = "rank,index,given,predicted,combined,aum,confidence,variability,correctness,"
            + "forgetting,learnedSince,meanLoss,lastLoss,count,flipped,mark,corrected";

    private SuspectExport() {
    }

    /**
     * The effective mark of every example: for each index the latest mark by
     * timestamp; a "clear" mark removes it.
     */
    public static Map<Long, SuspectMark> latestMarks(Collection<? extends Persistable> records) {
        Map<Long, SuspectMark> out = new LinkedHashMap<>();
        latestMarkRecords(records).forEach((i, r) -> out.put(i, r.payload(SuspectMark.class)));
        return out;
    }

    /** As {@link #latestMarks(Collection)}, with each mark's stored record (its timestamp, session, worker). */
    public static Map<Long, StethoscopeRecord> latestMarkRecords(Collection<? extends Persistable> records) {
        List<StethoscopeRecord> marks = new ArrayList<>();
        for (Persistable p : records) {
            if (p instanceof StethoscopeRecord r && r.holds(SuspectMark.class)) {
                marks.add(r);
            }
        }
        marks.sort(Comparator.comparingLong(StethoscopeRecord::getTimeStamp));
        Map<Long, StethoscopeRecord> out = new LinkedHashMap<>();
        for (StethoscopeRecord r : marks) {
            SuspectMark m = r.payload(SuspectMark.class);
            if ("clear".equals(m.decision())) {
                out.remove(m.index());
            } else {
                out.put(m.index(), r);
            }
        }
        return out;
    }

    /** Worker id under which user marks are stored. */
    public static final String MARK_WORKER = "ui/suspect-marks";

    /**
     * Stores a user's mark in a run's storage: stamps it with the session, the
     * {@link #MARK_WORKER} worker and a unique timestamp, and puts it as an
     * update. It is also put as static info, because DL4J's StatsStorage lists a
     * session's workers (and so finds its updates) from static infos only.
     *
     * <p>The two puts hold the storage's monitor, as every Stethoscope
     * listener's writes do, so a mark posted from the UI while training writes
     * the same storage never interleaves with the listeners' writes.
     */
    public static StethoscopeRecord putMark(StatsStorageRouter storage, String sessionId, SuspectMark payload,
                                            int epoch) {
        StethoscopeRecord mark = StethoscopeRecord.of(payload);
        mark.setKey(sessionId, MARK_WORKER, Timestamps.next(), epoch, 0);
        synchronized (storage) {
            storage.putStaticInfo(mark);
            storage.putUpdate(mark);
        }
        return mark;
    }

    /** Every mark record of a session in a storage (all workers). */
    public static Map<Long, SuspectMark> latestMarks(StatsStorage storage, String sessionId) {
        return latestMarks(new ArrayList<Persistable>(
                dev.stethoscope.listeners.records.RecordReader.updates(storage, sessionId, SuspectMark.TYPE_ID, -1)));
    }

    /**
     * The latest full table of a session (the one with the highest epoch, then
     * newest, over all workers), or null if there is none.
     */
    public static SuspectTable latestTable(StatsStorage storage, String sessionId) {
        StethoscopeRecord best = null;
        for (StethoscopeRecord r : dev.stethoscope.listeners.records.RecordReader.staticInfos(storage, sessionId,
                SuspectTable.TYPE_ID)) {
            if (!r.holds(SuspectTable.class)) {
                continue;
            }
            int e = r.payload(SuspectTable.class).tableEpoch();
            int be = best == null ? Integer.MIN_VALUE : best.payload(SuspectTable.class).tableEpoch();
            if (best == null || e > be || (e == be && r.getTimeStamp() > best.getTimeStamp())) {
                best = r;
            }
        }
        return best == null ? null : best.payload(SuspectTable.class);
    }

    /** Sessions of a storage that hold a suspect table. */
    public static List<String> sessionsWithTable(StatsStorage storage) {
        List<String> out = new ArrayList<>();
        for (String s : storage.listSessionIDs()) {
            if (storage.listTypeIDsForSession(s).contains(SuspectTable.TYPE_ID)) {
                out.add(s);
            }
        }
        return out;
    }

    /** Example indices of the table ordered by combined score, most suspicious first. */
    public static int[] order(SuspectTable table) {
        float[] c = table.column("combined");
        return java.util.stream.IntStream.range(0, c.length).boxed()
                .sorted(Comparator.<Integer>comparingInt(i -> Float.isNaN(c[i]) ? 1 : 0)
                        .thenComparing(Comparator.<Integer>comparingDouble(i -> Float.isNaN(c[i]) ? 0 : c[i])
                                .reversed())
                        .thenComparingInt(i -> i))
                .mapToInt(Integer::intValue).toArray();
    }

    /**
     * Writes the CSV.
     *
     * @param table      the full table, or null: then only the marked examples, with their index,
     *                   given label and mark (examples sent to the review list by an assertion)
     * @param markedOnly only the rows of examples with a mark
     * @return the number of data rows written
     */
    public static int writeCsv(Writer w, SuspectTable table, Map<Long, SuspectMark> marks,
                               boolean markedOnly) throws IOException {
        w.write(HEADER);
        w.write('\n');
        if (table == null) { // marks without a table (assertion hits sent to the review list): their own rows
            return writeMarksOutside(w, marks, -1);
        }
        Set<Long> flipped = new HashSet<>();
        for (long f : table.flipped()) {
            flipped.add(f);
        }
        boolean knowsFlipped = table.flipped().length > 0;
        String[] cols = {"combined", "aum", "confidence", "variability", "correctness"};
        float[][] f = new float[cols.length][];
        for (int c = 0; c < cols.length; c++) {
            f[c] = table.column(cols[c]);
        }
        float[] meanLoss = table.column("meanLoss");
        float[] lastLoss = table.column("lastLoss");
        int rank = 0;
        int rows = 0;
        for (int i : order(table)) {
            rank++;
            SuspectMark m = marks.get((long) i);
            if (markedOnly && m == null) {
                continue;
            }
            StringBuilder sb = new StringBuilder(160);
            sb.append(rank).append(',').append(i).append(',').append(label(table.given()[i])).append(',')
                    .append(label(table.predicted()[i]));
            for (float[] col : f) {
                sb.append(',').append(num(col[i]));
            }
            boolean seen = table.count()[i] > 0;
            sb.append(',').append(seen ? Integer.toString(table.forgetting()[i]) : "");
            sb.append(',').append(seen ? Integer.toString(table.learnedSince()[i]) : "");
            sb.append(',').append(num(meanLoss[i])).append(',').append(num(lastLoss[i]));
            sb.append(',').append(table.count()[i]);
            sb.append(',').append(knowsFlipped ? (flipped.contains((long) i) ? "1" : "0") : "");
            sb.append(',').append(m == null ? "" : m.decision());
            sb.append(',').append(m == null || m.corrected() < 0 ? "" : Integer.toString(m.corrected()));
            sb.append('\n');
            w.write(sb.toString());
            rows++;
        }
        // marks for examples outside the table are kept, not dropped
        return rows + writeMarksOutside(w, marks, table.numExamples());
    }

    /** Writes the rows of the marks of examples at or beyond {@code from}: index, given label, mark and correction. */
    private static int writeMarksOutside(Writer w, Map<Long, SuspectMark> marks, long from) throws IOException {
        int rows = 0;
        for (Map.Entry<Long, SuspectMark> e : marks.entrySet()) {
            long i = e.getKey();
            if (i >= from) {
                SuspectMark m = e.getValue();
                List<String> cells = new ArrayList<>(Arrays.asList(new String[17]));
                java.util.Collections.fill(cells, "");
                cells.set(1, Long.toString(i));
                cells.set(2, label(m.given()));
                cells.set(13, "0");
                cells.set(15, m.decision());
                cells.set(16, m.corrected() < 0 ? "" : Integer.toString(m.corrected()));
                w.write(String.join(",", cells) + "\n");
                rows++;
            }
        }
        w.flush();
        return rows;
    }

    private static String label(int l) {
        return l < 0 ? "" : Integer.toString(l);
    }

    private static String num(float v) {
        return Float.isFinite(v) ? String.format(Locale.ROOT, "%.6g", v) : "";
    }
}
