package dev.stethoscope.sample;

import dev.stethoscope.listeners.records.MonitorError;
import dev.stethoscope.listeners.records.ProbeAccuracy;
import dev.stethoscope.listeners.records.SimilarityTable;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;

import java.io.File;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/**
 * Not a test: prints a run folder's probe and similarity records as text tables, for the measured
 * findings in docs/PROBES_AND_SIMILARITY.md. Probe records: per snapshot epoch and layer the
 * features, probe-train/test accuracy, chosen L2 and final gradient norm. Similarity records: every
 * record with its kind, epochs, data points and values; an entry is suffixed {@code !U} when flagged
 * underdetermined and {@code !F} when flagged few-points. Also counts monitor error records.
 * Args: path/to/stats.dl4j
 */
public final class ProbeSimilarityDumpMain {
    private ProbeSimilarityDumpMain() {
    }

    public static void main(String[] args) throws Exception {
        FileStatsStorage storage = new FileStatsStorage(new File(args[0]));
        try {
            for (String session : storage.listSessionIDs()) {
                System.out.println("session " + session);
                List<ProbeAccuracy> probes = sorted(storage.getAllUpdatesAfter(session, ProbeAccuracy.TYPE_ID, 0))
                        .stream().map(p -> ((StethoscopeRecord) p).payload(ProbeAccuracy.class)).toList();
                for (ProbeAccuracy r : probes) {
                    System.out.printf(Locale.ROOT, "probe epoch %d (%s, %d train / %d test examples)%n", r.snapshotEpoch(),
                            r.featureMode(), r.trainExamples(), r.testExamples());
                    for (int i = 0; i < r.layers().size(); i++) {
                        System.out.printf(Locale.ROOT, "  %-8s features %6d  train %.4f  test %.4f  L2 %.0e  grad %.1e%n",
                                r.layers().get(i), r.features()[i], r.trainAccuracy()[i], r.testAccuracy()[i],
                                r.l2()[i], r.gradientNorm()[i]);
                    }
                }
                List<SimilarityTable> sims = sorted(storage.getAllUpdatesAfter(session, SimilarityTable.TYPE_ID, 0))
                        .stream().map(p -> ((StethoscopeRecord) p).payload(SimilarityTable.class)).toList();
                for (SimilarityTable s : sims) {
                    System.out.printf(Locale.ROOT, "similarity %s %s snapshot %d reference %d, %d data points; columns %s%n",
                            s.kind(), s.method(), s.snapshotEpoch(), s.referenceEpoch(), s.dataPoints(),
                            s.columns());
                    int cols = s.columns().size();
                    int[] flags = s.flags();
                    for (int i = 0; i < s.rows().size(); i++) {
                        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-8s", s.rows().get(i)
                                + (s.rowEpochs() != null && s.rowEpochs().length > i ? "@" + s.rowEpochs()[i] : "")));
                        for (int j = 0; j < cols; j++) {
                            int f = flags[i * cols + j];
                            line.append(String.format(Locale.ROOT, " %7.4f%-4s", s.value(i, j),
                                    ((f & SimilarityTable.UNDERDETERMINED) != 0 ? "!U" : "")
                                            + ((f & SimilarityTable.FEW_POINTS) != 0 ? "!F" : "")));
                        }
                        System.out.println(line);
                    }
                }
                List<Persistable> errors = storage.getAllUpdatesAfter(session, MonitorError.TYPE_ID, 0);
                System.out.println("monitor error records: " + errors.size());
                for (Persistable e : errors) {
                    System.out.println("  " + e);
                }
            }
        } finally {
            storage.close();
        }
    }

    private static List<Persistable> sorted(List<Persistable> records) {
        return records.stream().sorted(Comparator.comparingLong(Persistable::getTimeStamp)).toList();
    }
}
