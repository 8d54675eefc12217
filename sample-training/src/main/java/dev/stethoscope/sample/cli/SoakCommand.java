package dev.stethoscope.sample.cli;

import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Soak test: trains again and again with every monitor on, each training in its own child JVM,
 * so that a native crash is an exit code of one run and not the end of the harness.
 *
 * <p>Run i uses model {@code models[i % M]}, corruption {@code corrupt[(i / M) % C]}, listener mode
 * {@code modes[(i / (M C)) % S]} and seed {@code seed + i}. For each run it reports the exit code
 * (and the signal for 128 + n), the glibc or JVM fatal message found in the run's console, the
 * {@code hs_err_pid*.log} file if one was written, the peak resident memory (VmHWM from
 * {@code /proc/<pid>/status}, Linux only), the records in the run's {@code stats.dl4j} by type,
 * and it samples RSS every second into {@code rss.csv} and at each "epoch N done" line of the child
 * into {@code epoch-rss.csv} (printed as means per block of ten epochs, to see growth from epoch to
 * epoch); {@code Stethoscope.Error} records (a monitor fault that training survived) are named. A run that exceeds {@code --timeout} is
 * killed and counted as a failure. Not run by CI (minutes per run).
 */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = "Reliability soak: repeated trainings with every monitor on, each in a child JVM; "
                + "reports crashes (exit code, signal, glibc message, hs_err file), peak RSS and record counts.")
public final class SoakCommand implements Callable<Integer> {
    private static final Pattern FATAL = Pattern.compile(
            "corrupted|double free|free\\(\\)|malloc\\(\\)|munmap_chunk|malloc_consolidate|realloc\\(\\)"
                    + "|A fatal error has been detected|SIGSEGV|SIGBUS|SIGABRT|OutOfMemoryError|Program is Terminated");

    @Option(names = "--runs", defaultValue = "30", description = "Number of trainings (default: ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--epochs", defaultValue = "30", description = "Epochs per training (default: ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--train-limit", defaultValue = "2000", description = "Training examples per run (default: ${DEFAULT-VALUE}).")
    int trainLimit;

    @Option(names = "--timeout", defaultValue = "1200", description = "Seconds a run may take before it is killed and counted as failed (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--models", split = ",", defaultValue = "mlp,cnn", description = "Models, cycled: mlp, cnn, resnet (the residual ComputationGraph) (default: ${DEFAULT-VALUE}).")
    List<String> models;

    @Option(names = "--corrupt", split = ",", defaultValue = "random-labels,none", description = "--corrupt values of train, cycled (default: ${DEFAULT-VALUE}).")
    List<String> corruptions;

    @Option(names = "--modes", split = ",", defaultValue = "async,sync", description = "Listener modes, cycled: async (background threads) or sync (default: ${DEFAULT-VALUE}).")
    List<String> modes;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of the first run; run i uses seed + i (default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--out", description = "Folder of the soak (default: runs/soak-<date-time>); one sub-folder per run.")
    Path out;

    @Option(names = "--jar", description = "The stethoscope-sample.jar the children run (default: the running one). "
            + "Point it at an older build to reproduce a crash with this harness.")
    Path jar;

    @Option(names = "--java-opts", defaultValue = "-Xmx3g -Dorg.bytedeco.javacpp.maxbytes=4G -Dorg.bytedeco.javacpp.maxphysicalbytes=8G",
            description = "JVM options of each child (default: ${DEFAULT-VALUE}).")
    String javaOpts;

    @Option(names = "--omp-threads", defaultValue = "1", description = "OMP_NUM_THREADS of each child; 0 = inherit (default: ${DEFAULT-VALUE}).")
    int ompThreads;

    @Option(names = "--train-args", defaultValue = "", description = "Extra arguments appended to each train command (space-separated).")
    String trainArgs;

    @Option(names = "--stop-on-failure", description = "Stop after the first failed run.")
    boolean stopOnFailure;

    /** The outcome of one child training. */
    record Run(int index, String label, int exitCode, boolean timedOut, long seconds, long peakRssKb,
               String fatalMessage, String hsErr, Map<String, Integer> records, String recordError,
               long[] epochRssKb) {
        boolean failed() {
            return timedOut || exitCode != 0;
        }

        /** Records of monitor faults ({@code Stethoscope.Error}): training went on, but a monitor failed. */
        int monitorErrors() {
            return records.getOrDefault(dev.stethoscope.listeners.records.MonitorError.TYPE_ID, 0);
        }

        int totalRecords() {
            return records.values().stream().mapToInt(Integer::intValue).sum();
        }
    }

    @Override
    public Integer call() throws Exception {
        validate();
        Path dir = out != null ? out
                : Path.of("runs", "soak-" + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);
        Path jarPath = jar != null ? jar.toAbsolutePath() : runningJar();
        Path summary = dir.resolve("soak.tsv");
        Files.writeString(summary, "run\tmodel\tcorrupt\tmode\tseed\texit\tsignal\ttimeout\tseconds\tpeak_rss_mb\trecords\tfatal\ths_err\n",
                StandardCharsets.UTF_8);
        System.out.printf("Soak: %d run(s) of %d epoch(s), %d training examples, children run %s; results in %s%n",
                runs, epochs, trainLimit, jarPath, dir.toAbsolutePath());
        List<Run> done = new ArrayList<>();
        for (int i = 0; i < runs; i++) {
            String model = models.get(i % models.size());
            String corrupt = corruptions.get((i / models.size()) % corruptions.size());
            String mode = modes.get((i / (models.size() * corruptions.size())) % modes.size());
            long s = seed + i;
            Path runDir = dir.resolve(String.format(Locale.ROOT, "run-%03d", i + 1)).toAbsolutePath();
            Files.createDirectories(runDir);
            List<String> cmd = command(jarPath, runDir, model, corrupt, mode, s);
            Files.writeString(runDir.resolve("command.txt"), String.join(" ", cmd) + "\n", StandardCharsets.UTF_8);
            Run r = runOne(i + 1, model + " " + corrupt + " " + mode + " seed " + s, cmd, runDir);
            done.add(r);
            System.out.println(line(r));
            Files.writeString(summary, String.join("\t", String.valueOf(r.index()), model, corrupt, mode, String.valueOf(s),
                    String.valueOf(r.exitCode()), signalName(r.exitCode()), String.valueOf(r.timedOut()), String.valueOf(r.seconds()),
                    String.valueOf(r.peakRssKb() / 1024), String.valueOf(r.totalRecords()),
                    r.fatalMessage() == null ? "" : r.fatalMessage(), r.hsErr() == null ? "" : r.hsErr()) + "\n",
                    StandardCharsets.UTF_8, StandardOpenOption.APPEND);
            if (stopOnFailure && r.failed()) {
                break;
            }
        }
        String sum = summary(done);
        System.out.println(sum);
        Files.writeString(dir.resolve("summary.txt"), sum + "\n", StandardCharsets.UTF_8);
        return done.stream().anyMatch(Run::failed) ? 1 : 0;
    }

    private void validate() {
        if (runs < 1 || epochs < 1 || trainLimit < 0 || timeoutSeconds < 1 || ompThreads < 0) {
            throw new IllegalArgumentException("--runs, --epochs and --timeout must be >= 1, --train-limit and --omp-threads >= 0");
        }
        for (String m : modes) {
            if (!m.equals("async") && !m.equals("sync")) {
                throw new IllegalArgumentException("Unknown mode '" + m + "': valid modes are async, sync");
            }
        }
        for (String m : models) {
            if (!m.equals("mlp") && !m.equals("cnn") && !m.equals("resnet")) {
                throw new IllegalArgumentException("Unknown model '" + m + "': valid models are mlp, cnn, resnet");
            }
        }
        if (jar != null && !Files.isRegularFile(jar)) {
            throw new IllegalArgumentException("--jar " + jar + " is not a file");
        }
    }

    private static Path runningJar() {
        try {
            Path p = Path.of(SoakCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(p) && p.toString().endsWith(".jar")) {
                return p.toAbsolutePath();
            }
        } catch (Exception ignored) {
            // fall through
        }
        throw new IllegalArgumentException("Not running from stethoscope-sample.jar: pass --jar PATH");
    }

    private List<String> command(Path jarPath, Path runDir, String model, String corrupt, String mode, long s) {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        for (String o : javaOpts.trim().split("\\s+")) {
            if (!o.isEmpty()) {
                cmd.add(o);
            }
        }
        cmd.addAll(List.of("-jar", jarPath.toString(), "train", "--model", model, "--epochs", String.valueOf(epochs),
                "--train-limit", String.valueOf(trainLimit), "--corrupt", corrupt, "--seed", String.valueOf(s),
                "--no-ui", "--out", runDir.resolve("out").toString()));
        if (mode.equals("sync")) {
            cmd.add("--sync-monitors");
        }
        if (!(" " + trainArgs + " ").contains(" --preset")) {
            cmd.addAll(List.of("--preset", "full")); // every monitor on, unless the extra arguments choose a preset
        }
        for (String a : trainArgs.trim().split("\\s+")) {
            if (!a.isEmpty()) {
                cmd.add(a);
            }
        }
        return cmd;
    }

    private Run runOne(int index, String label, List<String> cmd, Path runDir) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(runDir.toFile()).redirectErrorStream(true)
                .redirectOutput(runDir.resolve("console.log").toFile());
        if (ompThreads > 0) {
            pb.environment().put("OMP_NUM_THREADS", String.valueOf(ompThreads));
        }
        long t0 = System.nanoTime();
        Process p = pb.start();
        long peak = 0;
        boolean timedOut = false;
        Path status = Path.of("/proc", String.valueOf(p.pid()), "status");
        EpochLines epochLines = new EpochLines(runDir.resolve("console.log"));
        List<long[]> epochRss = new ArrayList<>();
        try (PrintWriter rss = new PrintWriter(Files.newBufferedWriter(runDir.resolve("rss.csv"), StandardCharsets.UTF_8));
             PrintWriter ep = new PrintWriter(Files.newBufferedWriter(runDir.resolve("epoch-rss.csv"), StandardCharsets.UTF_8))) {
            rss.println("seconds,rss_kb,hwm_kb");
            ep.println("epoch,seconds,rss_kb");
            while (!p.waitFor(1, TimeUnit.SECONDS)) {
                long[] mem = readMemory(status);
                if (mem != null) {
                    peak = Math.max(peak, mem[1]);
                    double sec = (System.nanoTime() - t0) / 1e9;
                    rss.printf(Locale.ROOT, "%.1f,%d,%d%n", sec, mem[0], mem[1]);
                    rss.flush();
                    for (int e : epochLines.newEpochs()) { // RSS when the "epoch N done" line appeared (within 1 s)
                        epochRss.add(new long[]{e, mem[0]});
                        ep.printf(Locale.ROOT, "%d,%.1f,%d%n", e, sec, mem[0]);
                        ep.flush();
                    }
                }
                if (System.nanoTime() - t0 > TimeUnit.SECONDS.toNanos(timeoutSeconds)) {
                    timedOut = true;
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                    p.waitFor(30, TimeUnit.SECONDS);
                    break;
                }
            }
        }
        long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
        int exit = p.isAlive() ? -1 : p.exitValue();
        String fatal = fatalMessage(runDir.resolve("console.log"));
        String hsErr;
        try (Stream<Path> files = Files.list(runDir)) {
            hsErr = files.map(f -> f.getFileName().toString()).filter(n -> n.startsWith("hs_err_pid")).findFirst().orElse(null);
        }
        if (hsErr != null) {
            String frame = problematicFrame(runDir.resolve(hsErr));
            if (frame != null) {
                fatal = (fatal == null ? "" : fatal + " | ") + "problematic frame: " + frame;
            }
        }
        Map<String, Integer> records = new TreeMap<>();
        String recordError = null;
        File stats = runDir.resolve("out").resolve("stats.dl4j").toFile();
        if (stats.isFile()) {
            try {
                records = countRecords(stats);
            } catch (RuntimeException | Error e) {
                recordError = e.toString();
            }
        } else {
            recordError = "no stats.dl4j";
        }
        return new Run(index, label, exit, timedOut, seconds, peak, fatal, hsErr, records, recordError,
                epochRss.stream().mapToLong(e -> e[1]).toArray());
    }

    /** The "epoch N done" lines a child's console gains between two calls (read from where the last call stopped). */
    static final class EpochLines {
        private static final Pattern DONE = Pattern.compile("(?m)^epoch (\\d+) done");
        private final Path console;
        private long pos;
        private String partial = "";

        EpochLines(Path console) {
            this.console = console;
        }

        /** Epoch numbers of the complete "epoch N done" lines written since the last call. */
        List<Integer> newEpochs() {
            List<Integer> out = new ArrayList<>();
            try (java.nio.channels.SeekableByteChannel ch = Files.newByteChannel(console)) {
                if (ch.size() <= pos) {
                    return out;
                }
                java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) Math.min(ch.size() - pos, 1 << 20));
                ch.position(pos);
                int n = ch.read(buf);
                pos += Math.max(n, 0);
                String text = partial + new String(buf.array(), 0, Math.max(n, 0), StandardCharsets.ISO_8859_1);
                int cut = text.lastIndexOf('\n') + 1;
                partial = text.substring(cut);
                Matcher m = DONE.matcher(text.substring(0, cut).replace('\r', '\n'));
                while (m.find()) {
                    out.add(Integer.parseInt(m.group(1)));
                }
            } catch (IOException | RuntimeException e) {
                // not there yet
            }
            return out;
        }
    }

    /**
     * Mean RSS (MB) at the epoch ends of each block of ten epochs ("1-10 804, 11-20 840"), or "" without epochs:
     * a monitor that holds memory from epoch to epoch shows as block means that keep rising.
     */
    static String epochBlocks(long[] epochRssKb) {
        StringBuilder b = new StringBuilder();
        for (int from = 0; from < epochRssKb.length; from += 10) {
            int to = Math.min(epochRssKb.length, from + 10);
            double sum = 0;
            for (int i = from; i < to; i++) {
                sum += epochRssKb[i];
            }
            b.append(b.length() == 0 ? "" : ", ").append(String.format(Locale.ROOT, "%d-%d %d", from + 1, to,
                    Math.round(sum / (to - from) / 1024)));
        }
        return b.toString();
    }

    /** {VmRSS, VmHWM} in kB, or null when the process is gone or this is not Linux. */
    static long[] readMemory(Path status) {
        try {
            long rss = -1;
            long hwm = -1;
            for (String l : Files.readAllLines(status, StandardCharsets.UTF_8)) {
                if (l.startsWith("VmRSS:")) {
                    rss = kb(l);
                } else if (l.startsWith("VmHWM:")) {
                    hwm = kb(l);
                }
            }
            return rss < 0 || hwm < 0 ? null : new long[]{rss, hwm};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    private static long kb(String line) {
        Matcher m = Pattern.compile("(\\d+)\\s*kB").matcher(line);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /** The first line of the console that looks like a glibc or JVM fatal message, or null. */
    static String fatalMessage(Path console) {
        try (Stream<String> lines = Files.lines(console, StandardCharsets.ISO_8859_1)) {
            return lines.filter(l -> FATAL.matcher(l).find()).map(String::strip).findFirst().orElse(null);
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /** The native frame named under "Problematic frame:" in a JVM fatal error report, or null. */
    static String problematicFrame(Path hsErr) {
        try {
            List<String> lines = Files.readAllLines(hsErr, StandardCharsets.ISO_8859_1);
            for (int i = 0; i + 1 < lines.size(); i++) {
                if (lines.get(i).startsWith("# Problematic frame:")) {
                    return lines.get(i + 1).replaceFirst("^#\\s*", "").strip();
                }
            }
        } catch (IOException | RuntimeException e) {
            // no frame
        }
        return null;
    }

    /** Update records in a stats file by type id, over every session and worker. */
    static Map<String, Integer> countRecords(File stats) {
        Map<String, Integer> counts = new TreeMap<>();
        StatsStorage storage = new FileStatsStorage(stats);
        try {
            for (String sid : storage.listSessionIDs()) {
                for (String type : storage.listTypeIDsForSession(sid)) {
                    for (String worker : storage.listWorkerIDsForSessionAndType(sid, type)) {
                        counts.merge(type, storage.getNumUpdateRecordsFor(sid, type, worker), Integer::sum);
                    }
                }
            }
        } finally {
            try {
                storage.close();
            } catch (IOException ignored) {
                // read only
            }
        }
        return counts;
    }

    static String signalName(int exit) {
        if (exit <= 128 || exit > 128 + 64) {
            return "";
        }
        return switch (exit - 128) {
            case 6 -> "SIGABRT";
            case 9 -> "SIGKILL";
            case 11 -> "SIGSEGV";
            case 7 -> "SIGBUS";
            case 15 -> "SIGTERM";
            default -> "signal " + (exit - 128);
        };
    }

    private static String line(Run r) {
        String status;
        if (r.timedOut()) {
            status = "FAILED: timeout, killed";
        } else if (r.exitCode() != 0) {
            String sig = signalName(r.exitCode());
            status = "CRASH: exit " + r.exitCode() + (sig.isEmpty() ? "" : " (" + sig + ")");
        } else {
            status = "ok";
        }
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "run %3d  %-34s %s, %d s, peak RSS %d MB, records %d",
                r.index(), r.label(), status, r.seconds(), r.peakRssKb() / 1024, r.totalRecords()));
        if (!r.records().isEmpty()) {
            b.append(' ').append(r.records());
        }
        if (r.epochRssKb().length > 0) {
            b.append("\n      RSS at epoch ends, mean MB per block of ten epochs: ").append(epochBlocks(r.epochRssKb()));
        }
        if (r.monitorErrors() > 0) {
            b.append("\n      MONITOR ERRORS: ").append(r.monitorErrors()).append(" Stethoscope.Error record(s)");
        }
        if (r.recordError() != null) {
            b.append(" [records: ").append(r.recordError()).append(']');
        }
        if (r.fatalMessage() != null) {
            b.append("\n      message: ").append(r.fatalMessage());
        }
        if (r.hsErr() != null) {
            b.append("\n      hs_err: ").append(r.hsErr());
        }
        return b.toString();
    }

    static String summary(List<Run> runs) {
        long failed = runs.stream().filter(Run::failed).count();
        long timeouts = runs.stream().filter(Run::timedOut).count();
        long[] peaks = runs.stream().mapToLong(r -> r.peakRssKb() / 1024).sorted().toArray();
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Soak summary: %d run(s), %d failed (%d crash(es), %d timeout(s)), %d completed",
                runs.size(), failed, failed - timeouts, timeouts, runs.size() - failed));
        if (peaks.length > 0) {
            b.append(String.format(Locale.ROOT, "; peak RSS MB min %d, median %d, max %d", peaks[0], peaks[peaks.length / 2],
                    peaks[peaks.length - 1]));
        }
        Map<Integer, Long> byExit = new TreeMap<>();
        for (Run r : runs) {
            if (r.failed()) {
                byExit.merge(r.timedOut() ? -1 : r.exitCode(), 1L, Long::sum);
            }
        }
        long withErrors = runs.stream().filter(r -> r.monitorErrors() > 0).count();
        b.append(String.format(Locale.ROOT, "; %d run(s) with monitor error records", withErrors));
        if (!byExit.isEmpty()) {
            b.append("; failures by exit code (-1 = timeout): ").append(byExit);
        }
        int[] first = runs.stream().filter(Run::failed).mapToInt(Run::index).toArray();
        if (first.length > 0) {
            b.append("; failed runs: ").append(Arrays.toString(first));
        }
        return b.toString();
    }
}
