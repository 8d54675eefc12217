package dev.stethoscope.sample.data;

import java.io.BufferedOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes unsigned-byte IDX image and label files that {@link IdxReader} (and
 * any other IDX reader) can read. Parent folders are created as needed.
 */
public final class IdxWriter {
    private IdxWriter() {
    }

    /** Writes {@code images} as an IDX image file (magic {@code 0x00000803}). */
    public static void writeImages(Path file, IdxImages images) throws IOException {
        createParent(file);
        try (DataOutputStream out = new DataOutputStream(new BufferedOutputStream(Files.newOutputStream(file), 1 << 16))) {
            out.writeInt(IdxReader.IMAGES_MAGIC);
            out.writeInt(images.count());
            out.writeInt(images.rows());
            out.writeInt(images.cols());
            out.write(images.rawPixels());
        }
    }

    /**
     * Writes an IDX image file from raw pixels.
     *
     * @param pixels {@code count * rows * cols} unsigned-byte pixels, image after image, row-major
     */
    public static void writeImages(Path file, int count, int rows, int cols, byte[] pixels) throws IOException {
        writeImages(file, new IdxImages(null, count, rows, cols, pixels));
    }

    /** Writes {@code labels} (each 0..255) as an IDX label file (magic {@code 0x00000801}). */
    public static void writeLabels(Path file, int[] labels) throws IOException {
        IdxLabels checked = new IdxLabels(null, labels);
        createParent(file);
        try (OutputStream raw = Files.newOutputStream(file);
             DataOutputStream out = new DataOutputStream(new BufferedOutputStream(raw, 1 << 16))) {
            out.writeInt(IdxReader.LABELS_MAGIC);
            out.writeInt(checked.count());
            for (int l : checked.values()) {
                out.writeByte(l);
            }
        }
    }

    /** Writes {@code labels} as an IDX label file. */
    public static void writeLabels(Path file, IdxLabels labels) throws IOException {
        writeLabels(file, labels.values());
    }

    private static void createParent(Path file) throws IOException {
        Path parent = file.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
    }
}
