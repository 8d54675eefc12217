package dev.stethoscope.sample;

import dev.stethoscope.listeners.records.MonitorErrorRecord;
import dev.stethoscope.listeners.records.ProbeAccuracyRecord;
import dev.stethoscope.listeners.records.SimilarityRecord;
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
                List<ProbeAccuracyRecord> probes = sorted(storage.getAllUpdatesAfter(session, ProbeAccuracyRecord.TYPE_ID, 0))
                        .stream().map(ProbeAccuracyRecord.class::cast).toList();
                for (ProbeAccuracyRecord r : probes) {
                    System.out.printf(Locale.ROOT, "probe epoch %d (%s, %d train / %d test examples)%n", r.getSnapshotEpoch(),
                            r.getFeatureMode(), r.getTrainExamples(), r.getTestExamples());
                    for (int i = 0; i < r.getLayers().size(); i++) {
                        System.out.printf(Locale.ROOT, "  %-8s features %6d  train %.4f  test %.4f  L2 %.0e  grad %.1e%n",
                                r.getLayers().get(i), r.getFeatures()[i], r.getTrainAccuracy()[i], r.getTestAccuracy()[i],
                                r.getL2()[i], r.getGradientNorm()[i]);
                    }
                }
                List<SimilarityRecord> sims = sorted(storage.getAllUpdatesAfter(session, SimilarityRecord.TYPE_ID, 0))
                        .stream().map(SimilarityRecord.class::cast).toList();
                for (SimilarityRecord s : sims) {
                    System.out.printf(Locale.ROOT, "similarity %s %s snapshot %d reference %d, %d data points; columns %s%n",
                            s.getKind(), s.getMethod(), s.getSnapshotEpoch(), s.getReferenceEpoch(), s.getDataPoints(),
                            s.getColumns());
                    int cols = s.getColumns().size();
                    int[] flags = s.getFlags();
                    for (int i = 0; i < s.getRows().size(); i++) {
                        StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "  %-8s", s.getRows().get(i)
                                + (s.getRowEpochs() != null && s.getRowEpochs().length > i ? "@" + s.getRowEpochs()[i] : "")));
                        for (int j = 0; j < cols; j++) {
                            int f = flags[i * cols + j];
                            line.append(String.format(Locale.ROOT, " %7.4f%-4s", s.value(i, j),
                                    ((f & SimilarityRecord.UNDERDETERMINED) != 0 ? "!U" : "")
                                            + ((f & SimilarityRecord.FEW_POINTS) != 0 ? "!F" : "")));
                        }
                        System.out.println(line);
                    }
                }
                List<Persistable> errors = storage.getAllUpdatesAfter(session, MonitorErrorRecord.TYPE_ID, 0);
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
