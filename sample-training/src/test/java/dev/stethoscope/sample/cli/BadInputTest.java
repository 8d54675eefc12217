package dev.stethoscope.sample.cli;

import dev.stethoscope.sample.Main;
import dev.stethoscope.sample.data.IdxWriter;
import dev.stethoscope.sample.data.MnistData;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Bad input, as a careless user (or a hostile file) gives it, through the real command-line entry
 * point {@link Main#run}: every case ends with a non-zero exit code and one clear message naming
 * the problem, never a stack trace, a hang or a half-written run folder.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class BadInputTest {
    static final int ROWS = 8;
    static final int COLS = 8;

    Path root;
    Path good;       // four valid IDX files, labels 0..9
    Path label255;   // like good, one training label 255
    Path bomb;       // training images: a gzip bomb (valid header, far more data than declared)
    Path badHeader;  // training images: a header declaring 2^31-1 images of 65535x65535
    Path truncated;  // training labels cut short
    Path runWithData; // a folder that already holds a run
    Path emptyDir;
    Path garbageStats;
    Path npyNegative;
    Path npyOverflow;
    Path npyGood;
    Path notAModel;

    @BeforeAll
    void makeFiles() throws IOException {
        root = Files.createTempDirectory("stethoscope-bad-input");
        good = dataset("good", 40, 20, null);
        label255 = dataset("label255", 40, 20, 17);
        bomb = dataset("bomb", 40, 20, null);
        Path bombImages = bomb.resolve(MnistData.TRAIN_IMAGES);
        Files.delete(bombImages);
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(bomb.resolve(MnistData.TRAIN_IMAGES + ".gz")))) {
            out.write(ByteBuffer.allocate(16).putInt(0x803).putInt(40).putInt(ROWS).putInt(COLS).array());
            byte[] zeros = new byte[1 << 20];
            for (int i = 0; i < 1024; i++) { // 1 GiB of zeros compresses to about 1 MB
                out.write(zeros);
            }
        }
        badHeader = dataset("badheader", 40, 20, null);
        Files.write(badHeader.resolve(MnistData.TRAIN_IMAGES),
                ByteBuffer.allocate(16).putInt(0x803).putInt(Integer.MAX_VALUE).putInt(65535).putInt(65535).array());
        truncated = dataset("truncated", 40, 20, null);
        byte[] lab = Files.readAllBytes(truncated.resolve(MnistData.TRAIN_LABELS));
        Files.write(truncated.resolve(MnistData.TRAIN_LABELS), Arrays.copyOf(lab, lab.length - 5));
        runWithData = Files.createDirectories(root.resolve("old-run"));
        Files.writeString(runWithData.resolve("stats.dl4j"), "an old run's stats");
        Files.writeString(runWithData.resolve("flipped-labels.txt"), "# old\n3\n");
        emptyDir = Files.createDirectories(root.resolve("empty"));
        garbageStats = root.resolve("garbage.dl4j");
        byte[] junk = new byte[4096];
        new Random(1).nextBytes(junk);
        Files.write(garbageStats, junk);
        npyNegative = npy("neg.npy", "(-3, 4)", 0);
        npyOverflow = npy("overflow.npy", "(4294967296, 4294967296, 4294967296)", 0);
        npyGood = npy("good.npy", "(2, 3)", 6);
        notAModel = root.resolve("model.zip");
        Files.writeString(notAModel, "not a zip");
    }

    @AfterAll
    void cleanUp() throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted((a, b) -> b.compareTo(a)).forEach(p -> p.toFile().delete());
        }
    }

    private Path dataset(String name, int nTrain, int nTest, Integer badIndex) throws IOException {
        Path dir = Files.createDirectories(root.resolve(name));
        Random r = new Random(3);
        for (int split = 0; split < 2; split++) {
            int n = split == 0 ? nTrain : nTest;
            byte[] px = new byte[n * ROWS * COLS];
            r.nextBytes(px);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) {
                labels[i] = i % 10;
            }
            if (split == 0 && badIndex != null) {
                labels[badIndex] = 255;
            }
            IdxWriter.writeImages(dir.resolve(split == 0 ? MnistData.TRAIN_IMAGES : MnistData.TEST_IMAGES), n, ROWS, COLS, px);
            IdxWriter.writeLabels(dir.resolve(split == 0 ? MnistData.TRAIN_LABELS : MnistData.TEST_LABELS), labels);
        }
        return dir;
    }

    private Path npy(String name, String shape, int values) throws IOException {
        String header = "{'descr': '<f8', 'fortran_order': False, 'shape': " + shape + ", }";
        while ((10 + header.length() + 1) % 16 != 0) {
            header += " ";
        }
        header += "\n";
        ByteBuffer b = ByteBuffer.allocate(10 + header.length() + 8 * values).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        b.putShort((short) header.length());
        b.put(header.getBytes(StandardCharsets.ISO_8859_1));
        for (int i = 0; i < values; i++) {
            b.putDouble(i);
        }
        Path p = root.resolve(name);
        Files.write(p, b.array());
        return p;
    }

    /** A train command on generated data into a fresh folder, plus {@code extra}. */
    private String[] train(Path data, String... extra) {
        List<String> a = new ArrayList<>(List.of("train", "--no-ui", "--no-monitors",
                "--data", data.toString(), "--out", root.resolve("out-" + System.nanoTime()).toString()));
        a.addAll(List.of(extra));
        return a.toArray(String[]::new);
    }

    Stream<Arguments> cases() {
        String out = root.resolve("never").toString();
        List<Arguments> c = new ArrayList<>();
        c.add(Arguments.of(train(good, "--label-noise", "NaN"), "--label-noise must be a number in [0.0, 1.0), got NaN"));
        c.add(Arguments.of(train(good, "--label-noise", "1.5"), "--label-noise"));
        c.add(Arguments.of(train(good, "--label-noise", "-0.1"), "--label-noise"));
        c.add(Arguments.of(train(good, "--epochs", "0"), "--epochs must be >= 1, got 0"));
        c.add(Arguments.of(train(good, "--batch", "0"), "--batch must be >= 1, got 0"));
        c.add(Arguments.of(train(good, "--train-limit", "-1"), "--train-limit must be >= 0, got -1"));
        c.add(Arguments.of(train(good, "--test-limit", "-5"), "--test-limit"));
        c.add(Arguments.of(train(good, "--port", "70000"), "--port must be in 0..65535, got 70000"));
        c.add(Arguments.of(train(good, "--port", "-1"), "--port"));
        c.add(Arguments.of(train(good, "--health-every", "0"), "--health-every"));
        c.add(Arguments.of(train(good, "--preset", "first"), "valid: economy, business, full"));
        c.add(Arguments.of(train(good, "--preset", "economy", "--probe-every", "1"), "--probe-every 1 needs --preset business or full"));
        c.add(Arguments.of(train(good, "--attribution-every", "1"), "--attribution-every 1 needs --preset full"));
        c.add(Arguments.of(train(good, "--checkpoint-every", "-1"), "--checkpoint-every"));
        c.add(Arguments.of(train(good, "--probe-examples", "2"), "--probe-examples"));
        c.add(Arguments.of(train(good, "--csr-examples", "0"), "--csr-examples"));
        c.add(Arguments.of(train(good, "--similarity-method", "foo"), "foo"));
        c.add(Arguments.of(train(good, "--similarity-conv", "foo"), "foo"));
        c.add(Arguments.of(train(good, "--corrupt", "foo"), "foo"));
        c.add(Arguments.of(train(good, "--spark", "local[2]", "--config", "net.json"), "--spark trains the sample's own models (--model mlp, cnn or resnet), not --config"));
        c.add(Arguments.of(train(good, "--spark", "local[2]", "--corrupt", "random-labels"), "is not supported with it"));
        c.add(Arguments.of(train(good, "--spark", "local[2]", "--averaging-frequency", "0"), "--averaging-frequency must be >= 1, got 0"));
        c.add(Arguments.of(train(good, "--spark", " "), "--spark needs a Spark master"));
        c.add(Arguments.of(train(good, "--model", "resnot"), "resnot"));
        c.add(Arguments.of(train(good, "--epochs", "abc"), "abc"));
        c.add(Arguments.of(train(good, "--classes", "1"), "--classes must be in 2..256"));
        c.add(Arguments.of(train(good, "--resume", "--force"), "exclude each other"));
        c.add(Arguments.of(new String[]{"train", "--no-ui", "--force", "--data", good.toString()}, "--force needs --out"));
        c.add(Arguments.of(train(label255), "label 255 at index 17"));
        c.add(Arguments.of(train(good, "--classes", "5"), "label 5 at index 5"));
        c.add(Arguments.of(train(bomb), "trailing bytes"));
        c.add(Arguments.of(train(badHeader), "more than this reader supports"));
        c.add(Arguments.of(train(truncated), "truncated"));
        c.add(Arguments.of(new String[]{"train", "--no-ui", "--data", good.toString(), "--out", runWithData.toString()},
                "already holds a run"));
        c.add(Arguments.of(new String[]{"train", "--no-ui", "--resume", "--data", good.toString(), "--out",
                emptyDir.toString()}, "holds no run to resume"));
        c.add(Arguments.of(new String[]{"train", "--no-ui", "--resume", "--data", good.toString(), "--out",
                runWithData.toString()}, "no saved model"));
        c.add(Arguments.of(new String[]{"view", root.resolve("missing.dl4j").toString()}, "No such run file"));
        c.add(Arguments.of(new String[]{"view", garbageStats.toString(), "--port", "0"}, "not a readable stats file"));
        c.add(Arguments.of(new String[]{"view", garbageStats.toString(), "--port", "99999"}, "--port must be in 0..65535"));
        c.add(Arguments.of(new String[]{"suspects", root.resolve("missing.dl4j").toString(), "--out", out}, "No such run file"));
        for (String[] e : List.of(new String[]{"--scale", "0"}, new String[]{"--scale", "100000"},
                new String[]{"--steps", "0"}, new String[]{"--index", "-1"})) {
            List<String> a = new ArrayList<>(List.of("explain", "--model", notAModel.toString(), "--data", good.toString(),
                    "--out", root.resolve("x.png").toString()));
            a.addAll(List.of(e));
            if (!e[0].equals("--index")) {
                a.addAll(List.of("--index", "0"));
            }
            c.add(Arguments.of(a.toArray(String[]::new), e[0] + " must be"));
        }
        c.add(Arguments.of(new String[]{"explain", "--model", notAModel.toString(), "--data", good.toString(),
                "--index", "0", "--out", root.resolve("x.png").toString()}, "Cannot read"));
        c.add(Arguments.of(new String[]{"similarity", npyGood.toString(), npyGood.toString(), "--keep", "NaN"}, "--keep"));
        c.add(Arguments.of(new String[]{"similarity", npyGood.toString(), npyGood.toString(), "--keep", "-1"}, "--keep"));
        c.add(Arguments.of(new String[]{"similarity", npyGood.toString(), npyGood.toString(), "--epsilon", "NaN"}, "--epsilon"));
        c.add(Arguments.of(new String[]{"similarity", npyNegative.toString(), npyGood.toString()}, "negative dimension"));
        c.add(Arguments.of(new String[]{"similarity", npyOverflow.toString(), npyGood.toString()}, "more elements"));
        c.add(Arguments.of(new String[]{"experiment", "--noise", "NaN", "--data", good.toString(), "--out", out}, "--noise"));
        c.add(Arguments.of(new String[]{"experiment", "--lass-radius", "NaN", "--data", good.toString(), "--out", out},
                "--lass-radius"));
        c.add(Arguments.of(new String[]{"bench-health", "--pairs", "0", "--data", good.toString()}, "--pairs"));
        c.add(Arguments.of(new String[]{"bench-suspects", "--label-noise", "NaN", "--data", good.toString()}, "--label-noise"));
        c.add(Arguments.of(new String[]{"bench-memorization", "--lass-preset", "bogus", "--data", good.toString()},
                "Unknown LASS preset"));
        c.add(Arguments.of(new String[]{"bench-attribution", "--repeats", "0", "--data", good.toString()}, "--repeats"));
        c.add(Arguments.of(new String[]{"bench-spark", "--learning-rate", "0", "--data", good.toString()},
                "--learning-rate must be > 0"));
        c.add(Arguments.of(new String[]{"bench-spark", "--one-jvm-batch", "-1", "--data", good.toString()},
                "--one-jvm-batch must be >= 0"));
        c.add(Arguments.of(new String[]{"bench-spark", "--updater", "bogus", "--data", good.toString()}, "adam, sgd"));
        c.add(Arguments.of(new String[]{"bench-spark", "--kinds", "onejvm,bogus", "--data", good.toString()},
                "onejvm, averaging, spark"));
        return c.stream();
    }

    @ParameterizedTest(name = "{1}")
    @MethodSource("cases")
    void badInputGetsOneClearErrorAndANonZeroExit(String[] args, String expected) {
        String[] r = run(args);
        String err = r[2];
        assertThat(Integer.parseInt(r[0])).as("exit code of %s", Arrays.toString(args)).isNotZero();
        assertThat(err).as("message of %s", Arrays.toString(args)).contains(expected);
        assertThat(err).as("no stack trace").doesNotContain("\tat ").doesNotContain("Exception in thread");
        assertThat(root.resolve("never")).doesNotExist();
        // the train command writes nothing into a fresh --out folder before its checks pass
        for (int i = 0; i < args.length - 1; i++) {
            if (args[0].equals("train") && args[i].equals("--out") && args[i + 1].contains("out-")) {
                assertThat(Path.of(args[i + 1])).doesNotExist();
            }
        }
    }

    @Test
    void theOldRunIsLeftUntouched() throws IOException {
        run("train", "--no-ui", "--data", good.toString(), "--out", runWithData.toString());
        assertThat(Files.readString(runWithData.resolve("stats.dl4j"))).isEqualTo("an old run's stats");
        assertThat(Files.readString(runWithData.resolve("flipped-labels.txt"))).isEqualTo("# old\n3\n");
    }

    static String[] run(String... args) {
        PrintStream oldErr = System.err;
        PrintStream oldOut = System.out;
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        System.setErr(new PrintStream(err, true));
        System.setOut(new PrintStream(out, true));
        int code;
        try {
            code = Main.run(args);
        } finally {
            System.setErr(oldErr);
            System.setOut(oldOut);
        }
        return new String[]{String.valueOf(code), out.toString(), err.toString()};
    }
}
