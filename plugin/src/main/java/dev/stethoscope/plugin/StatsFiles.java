package dev.stethoscope.plugin;

import org.deeplearning4j.ui.model.storage.FileStatsStorage;

import java.io.File;

/**
 * Opens a run's stats file ({@code stats.dl4j}, DL4J's {@link FileStatsStorage}) that may be
 * damaged, in use or crafted: with the {@link StatsFileFilter} installed, and with every storage
 * key read once up front, so that a bad file fails here with one clear message instead of later
 * inside the UI. Open trusted runs only: the filter narrows what a crafted file can do, it does
 * not make any file safe.
 */
public final class StatsFiles {
    private StatsFiles() {
    }

    /**
     * Opens {@code file} for reading and writing.
     *
     * @throws IllegalArgumentException with a message saying what is wrong (missing, in use by a
     *                                  running training, not a stats file, holds a forbidden class)
     */
    public static FileStatsStorage open(File file) {
        if (!file.isFile()) {
            throw new IllegalArgumentException("No such run file: " + file
                    + " (give the stats.dl4j file in a run folder written by the train command)");
        }
        StatsFileFilter.install();
        FileStatsStorage storage = null;
        try {
            storage = new FileStatsStorage(file);
            for (String session : storage.listSessionIDs()) {
                for (String type : storage.listTypeIDsForSession(session)) {
                    storage.listWorkerIDsForSessionAndType(session, type);
                    storage.getAllStaticInfos(session, type);
                }
            }
            return storage;
        } catch (RuntimeException | StackOverflowError | NoClassDefFoundError e) {
            if (storage != null) {
                try {
                    storage.close();
                } catch (RuntimeException ignored) {
                    // the original problem is the one to report
                }
            }
            throw new IllegalArgumentException(describe(file, e), e);
        }
    }

    private static String describe(File file, Throwable e) {
        Throwable root = e;
        boolean refused = false;
        boolean locked = false;
        for (Throwable t = e; t != null; t = t.getCause()) {
            root = t;
            refused |= t instanceof java.io.InvalidClassException;
            locked |= t.getClass().getName().contains("FileLocked")
                    || String.valueOf(t.getMessage()).contains("locked");
        }
        if (refused) {
            return file + " is not a readable stats file: it holds Java-serialised data of a kind a run never holds "
                    + "(refused classes: " + StatsFileFilter.rejectedClasses() + "). The file is damaged or crafted; "
                    + "open trusted runs only.";
        }
        if (locked) {
            return file + " is in use by another process (a training still running?); wait for it to end, or view a copy.";
        }
        return file + " is not a readable stats file (" + root.getClass().getSimpleName()
                + (root.getMessage() != null ? ": " + root.getMessage() : "")
                + "). Give the stats.dl4j file of a run folder written by the train command.";
    }
}
