package dev.stethoscope.sample.cli;

import dev.stethoscope.listeners.dynamics.SuspectExport;
import dev.stethoscope.listeners.records.SuspectMark;
import dev.stethoscope.listeners.records.SuspectTable;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * Writes the suspected mislabeled training examples of a stored run as CSV:
 * one row per training example, sorted by the combined suspect score (most
 * suspicious first), with every score and the user's mark from the Suspects
 * page; {@code --marked-only} writes just the marked rows. Columns:
 * {@value SuspectExport#HEADER}.
 */
@Command(name = "suspects", mixinStandardHelpOptions = true,
        description = "Write the suspected mislabeled training examples of a stored run (with your marks) as CSV.")
public final class SuspectsCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_FILE",
            description = "The run's stats file (FileStatsStorage, e.g. runs/<run>/stats.dl4j).")
    File runFile;

    @Option(names = "--out", required = true, paramLabel = "CSV", description = "Output CSV file.")
    File out;

    @Option(names = "--marked-only", description = "Only the examples you marked on the Suspects page.")
    boolean markedOnly;

    @Option(names = "--session", description = "Session id, when the run file holds more than one.")
    String session;

    @Override
    public Integer call() throws Exception {
        FileStatsStorage storage = dev.stethoscope.plugin.StatsFiles.open(runFile);
        try {
            List<String> sessions = SuspectExport.sessionsWithTable(storage);
            String s = session;
            if (s == null) {
                if (sessions.isEmpty()) {
                    throw new IllegalArgumentException("The run " + runFile + " has no suspect table: it was not "
                            + "trained with the TrainingDynamicsListener (train with suspects enabled)");
                }
                if (sessions.size() > 1) {
                    throw new IllegalArgumentException("The run holds " + sessions.size()
                            + " sessions with suspects; choose one with --session: " + sessions);
                }
                s = sessions.get(0);
            } else if (!sessions.contains(s)) {
                throw new IllegalArgumentException("Session '" + s + "' has no suspect table. Sessions with one: "
                        + sessions);
            }
            SuspectTable table = SuspectExport.latestTable(storage, s);
            Map<Long, SuspectMark> marks = SuspectExport.latestMarks(storage, s);
            File parent = out.getAbsoluteFile().getParentFile();
            if (parent != null) {
                Files.createDirectories(parent.toPath());
            }
            int rows;
            try (Writer w = Files.newBufferedWriter(out.toPath(), StandardCharsets.UTF_8)) {
                rows = SuspectExport.writeCsv(w, table, marks, markedOnly);
            }
            System.out.printf("Wrote %d row(s) to %s (session %s, table of epoch %d, %d example(s) marked)%n", rows,
                    out, s, table.tableEpoch(), marks.size());
            return 0;
        } finally {
            storage.close();
        }
    }
}
