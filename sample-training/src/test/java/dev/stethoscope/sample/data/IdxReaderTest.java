package dev.stethoscope.sample.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class IdxReaderTest {
    @TempDir
    Path tmp;

    private static byte[] randomPixels(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        b[0] = 0;
        b[1] = (byte) 255; // both ends of the unsigned range
        return b;
    }

    @Test
    void roundTripOfTinyImageAndLabelFiles() throws IOException {
        int count = 7, rows = 3, cols = 5;
        byte[] pixels = randomPixels(count * rows * cols, 1);
        int[] labels = {0, 9, 3, 255, 1, 1, 7};
        Path img = tmp.resolve("imgs-idx3-ubyte");
        Path lab = tmp.resolve("labels-idx1-ubyte");
        IdxWriter.writeImages(img, count, rows, cols, pixels);
        IdxWriter.writeLabels(lab, labels);

        assertThat(Files.size(img)).isEqualTo(16 + count * rows * cols);
        assertThat(Files.size(lab)).isEqualTo(8 + count);
        IdxImages ri = IdxReader.readImages(img);
        IdxLabels rl = IdxReader.readLabels(lab);
        assertThat(ri.count()).isEqualTo(count);
        assertThat(ri.rows()).isEqualTo(rows);
        assertThat(ri.cols()).isEqualTo(cols);
        assertThat(ri.rawPixels()).isEqualTo(pixels);
        assertThat(ri.pixel(0, 0, 0)).isEqualTo(0);
        assertThat(ri.pixel(0, 0, 1)).isEqualTo(255);
        assertThat(ri.pixel(6, 2, 4)).isEqualTo(pixels[6 * 15 + 2 * 5 + 4] & 0xff);
        assertThat(rl.values()).containsExactly(labels);
        assertThat(rl.impliedClassCount()).isEqualTo(256);
        assertThat(IdxReader.check(img, true)).isEqualTo(count);
        assertThat(IdxReader.check(lab, false)).isEqualTo(count);

        // the header is the documented big-endian layout
        ByteBuffer head = ByteBuffer.wrap(Files.readAllBytes(img), 0, 16);
        assertThat(head.getInt()).isEqualTo(0x00000803);
        assertThat(head.getInt()).isEqualTo(count);
        assertThat(head.getInt()).isEqualTo(rows);
        assertThat(head.getInt()).isEqualTo(cols);

        LabeledImages pair = IdxReader.readPair(img, lab);
        assertThat(pair.size()).isEqualTo(count);
        assertThat(pair.labelValues()).containsExactly(labels);
    }

    @Test
    void gzipCompressedFilesAreReadTransparently() throws IOException {
        byte[] pixels = randomPixels(4 * 2 * 2, 2);
        Path img = tmp.resolve("i");
        IdxWriter.writeImages(img, 4, 2, 2, pixels);
        Path gz = tmp.resolve("i.gz");
        try (OutputStream out = new GZIPOutputStream(Files.newOutputStream(gz))) {
            out.write(Files.readAllBytes(img));
        }
        assertThat(IdxReader.readImages(gz).rawPixels()).isEqualTo(pixels);
        assertThat(IdxReader.check(gz, true)).isEqualTo(4);

        Path broken = tmp.resolve("broken.gz");
        byte[] all = Files.readAllBytes(gz);
        Files.write(broken, Arrays.copyOf(all, all.length / 2));
        assertThatThrownBy(() -> IdxReader.readImages(broken))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(broken.toString())
                .hasMessageContaining("gzip");
    }

    @Test
    void wrongMagicIsRejectedNamingTheFile() throws IOException {
        Path bad = tmp.resolve("bad-magic-idx3-ubyte");
        ByteBuffer b = ByteBuffer.allocate(16 + 4);
        b.putInt(0x12345678).putInt(1).putInt(2).putInt(2);
        Files.write(bad, b.array());
        assertThatThrownBy(() -> IdxReader.readImages(bad))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(bad.toString())
                .hasMessageContaining("0x12345678")
                .hasMessageContaining("0x00000803");
        assertThatThrownBy(() -> IdxReader.check(bad, true))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(bad.toString());

        // a label file given where images are expected (and the other way round)
        Path labels = tmp.resolve("labels");
        IdxWriter.writeLabels(labels, new int[] {1, 2});
        assertThatThrownBy(() -> IdxReader.readImages(labels))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(labels.toString())
                .hasMessageContaining("label file");
        Path images = tmp.resolve("images");
        IdxWriter.writeImages(images, 1, 1, 1, new byte[] {5});
        assertThatThrownBy(() -> IdxReader.readLabels(images))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(images.toString())
                .hasMessageContaining("image file");

        // float IDX data is a valid IDX file, but not supported
        Path floats = tmp.resolve("floats");
        Files.write(floats, ByteBuffer.allocate(12).putInt(0x00000D01).putInt(1).putFloat(1f).array());
        assertThatThrownBy(() -> IdxReader.readLabels(floats))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(floats.toString())
                .hasMessageContaining("float");
    }

    @Test
    void truncatedFilesAreRejectedNamingTheFile() throws IOException {
        Path img = tmp.resolve("train-images-idx3-ubyte");
        IdxWriter.writeImages(img, 3, 4, 4, randomPixels(48, 3));
        byte[] all = Files.readAllBytes(img);
        Files.write(img, Arrays.copyOf(all, all.length - 1));
        assertThatThrownBy(() -> IdxReader.readImages(img))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(img.toString())
                .hasMessageContaining("truncated")
                .hasMessageContaining("3 images of 4x4");
        assertThatThrownBy(() -> IdxReader.check(img, true))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining("truncated");

        Files.write(img, Arrays.copyOf(all, 10));
        assertThatThrownBy(() -> IdxReader.readImages(img))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(img.toString())
                .hasMessageContaining("header");

        Files.write(img, new byte[0]);
        assertThatThrownBy(() -> IdxReader.readImages(img))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining("truncated");

        Path lab = tmp.resolve("train-labels-idx1-ubyte");
        IdxWriter.writeLabels(lab, new int[] {1, 2, 3});
        byte[] labAll = Files.readAllBytes(lab);
        Files.write(lab, Arrays.copyOf(labAll, labAll.length - 2));
        assertThatThrownBy(() -> IdxReader.readLabels(lab))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(lab.toString())
                .hasMessageContaining("truncated")
                .hasMessageContaining("3 labels");
    }

    @Test
    void trailingBytesAreRejected() throws IOException {
        Path lab = tmp.resolve("labels");
        IdxWriter.writeLabels(lab, new int[] {1, 2, 3});
        Files.write(lab, new byte[] {4}, java.nio.file.StandardOpenOption.APPEND);
        assertThatThrownBy(() -> IdxReader.readLabels(lab))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(lab.toString())
                .hasMessageContaining("1 unexpected trailing bytes");
    }

    @Test
    void imageAndLabelCountsThatDifferAreRejected() throws IOException {
        Path img = tmp.resolve("imgs");
        Path lab = tmp.resolve("labs");
        IdxWriter.writeImages(img, 5, 2, 2, randomPixels(20, 4));
        IdxWriter.writeLabels(lab, new int[] {0, 1, 2, 3});
        assertThatThrownBy(() -> IdxReader.readPair(img, lab))
                .isInstanceOf(IdxFormatException.class)
                .hasMessageContaining(lab.toString())
                .hasMessageContaining(img.toString())
                .hasMessageContaining("4 labels")
                .hasMessageContaining("5 images");
    }

    @Test
    void conversionToFeaturesAndOneHot() throws IOException {
        int count = 6, rows = 3, cols = 4;
        byte[] pixels = randomPixels(count * rows * cols, 5);
        IdxImages images = new IdxImages(null, count, rows, cols, pixels);
        INDArray f = DataConversion.features(images);
        assertThat(f.shape()).containsExactly(count, rows * cols);
        for (int i = 0; i < count; i++) {
            for (int r = 0; r < rows; r++) {
                for (int c = 0; c < cols; c++) {
                    assertThat(f.getFloat(i, r * cols + c)).isEqualTo(images.pixel(i, r, c) / 255f);
                }
            }
        }
        assertThat(f.minNumber().doubleValue()).isGreaterThanOrEqualTo(0);
        assertThat(f.maxNumber().doubleValue()).isEqualTo(1.0);
        INDArray part = DataConversion.features(images, 2, 5);
        assertThat(part.shape()).containsExactly(3, rows * cols);
        assertThat(part.getFloat(0, 7)).isEqualTo(images.pixel(2, 1, 3) / 255f);

        INDArray img4 = DataConversion.toImageShape(f, rows, cols);
        assertThat(img4.shape()).containsExactly(count, 1, rows, cols);
        assertThat(img4.getFloat(4, 0, 2, 1)).isEqualTo(images.pixel(4, 2, 1) / 255f);
        assertThat(DataConversion.cnnInputType(rows, cols).arrayElementsPerExample()).isEqualTo(rows * cols);

        int[] labels = {3, 0, 2, 2};
        INDArray oh = DataConversion.oneHot(labels, 4);
        assertThat(oh.shape()).containsExactly(4, 4);
        assertThat(oh.sumNumber().intValue()).isEqualTo(4);
        assertThat(DataConversion.classesOf(oh)).containsExactly(labels);
        assertThatThrownBy(() -> DataConversion.oneHot(new int[] {4}, 4))
                .hasMessageContaining("outside 0..3");
    }
}
