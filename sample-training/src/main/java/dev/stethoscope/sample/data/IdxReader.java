package dev.stethoscope.sample.data;

import java.io.ByteArrayInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads IDX files (the format of MNIST, Fashion-MNIST, EMNIST...): image files
 * with magic {@code 0x00000803} (count, rows, cols, then unsigned-byte pixels)
 * and label files with magic {@code 0x00000801} (count, then unsigned-byte
 * labels). All integers are big-endian.
 *
 * <p>Files are checked strictly: wrong magic number, unsupported data type,
 * a header that is cut short, fewer or more data bytes than the header
 * declares all raise an {@link IdxFormatException} naming the file and the
 * problem. Gzip-compressed files (as distributed on the MNIST web site) are
 * recognised by their content and decompressed transparently.
 */
public final class IdxReader {
    /** Magic number of an unsigned-byte IDX file with three dimensions (images). */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** Magic number of an unsigned-byte IDX file with one dimension (labels). */
    public static final int LABELS_MAGIC = 0x00000801;

    private IdxReader() {
    }

    /**
     * Reads an IDX image file.
     *
     * @throws IdxFormatException if the file is not a well-formed unsigned-byte 3-D IDX file
     * @throws IOException        if it cannot be read
     */
    public static IdxImages readImages(Path file) throws IOException {
        byte[] data = readContent(file, 3, IMAGES_MAGIC, "image");
        ByteBuffer buf = ByteBuffer.wrap(data);
        int count = buf.getInt(4);
        int rows = buf.getInt(8);
        int cols = buf.getInt(12);
        if (count < 0 || rows <= 0 || cols <= 0) {
            throw new IdxFormatException(file, "header declares " + Integer.toUnsignedString(count) + " images of "
                    + Integer.toUnsignedString(rows) + "x" + Integer.toUnsignedString(cols)
                    + " pixels, which is not a valid size");
        }
        long expected = 16L + (long) count * rows * cols;
        checkLength(file, data.length, expected, count + " images of " + rows + "x" + cols + " pixels");
        byte[] pixels = new byte[data.length - 16];
        System.arraycopy(data, 16, pixels, 0, pixels.length);
        return new IdxImages(file, count, rows, cols, pixels);
    }

    /**
     * Reads an IDX label file.
     *
     * @throws IdxFormatException if the file is not a well-formed unsigned-byte 1-D IDX file
     * @throws IOException        if it cannot be read
     */
    public static IdxLabels readLabels(Path file) throws IOException {
        byte[] data = readContent(file, 1, LABELS_MAGIC, "label");
        int count = ByteBuffer.wrap(data).getInt(4);
        if (count < 0) {
            throw new IdxFormatException(file, "header declares " + Integer.toUnsignedString(count)
                    + " labels, which is not a valid count");
        }
        checkLength(file, data.length, 8L + count, count + " labels");
        int[] labels = new int[count];
        for (int i = 0; i < count; i++) {
            labels[i] = data[8 + i] & 0xff;
        }
        return new IdxLabels(file, labels);
    }

    /**
     * Reads an image file and its label file and checks that they hold the same
     * number of examples.
     *
     * @throws IdxFormatException if either file is malformed or the counts differ
     * @throws IOException        if a file cannot be read
     */
    public static LabeledImages readPair(Path imagesFile, Path labelsFile) throws IOException {
        return LabeledImages.of(readImages(imagesFile), readLabels(labelsFile));
    }

    /**
     * Checks an IDX image or label file's header against its size without
     * reading the data (gzip files are read fully). Returns the number of
     * examples it holds.
     *
     * @param images {@code true} for an image file, {@code false} for a label file
     * @throws IdxFormatException if the file is malformed
     */
    public static int check(Path file, boolean images) throws IOException {
        byte[] head = new byte[16];
        int n;
        try (InputStream in = Files.newInputStream(file)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "IDX file not found");
        }
        if (n >= 2 && (head[0] & 0xff) == 0x1f && (head[1] & 0xff) == 0x8b) {
            return images ? readImages(file).count() : readLabels(file).count();
        }
        byte[] data = java.util.Arrays.copyOf(head, n);
        ByteBuffer buf = ByteBuffer.wrap(head);
        long size = Files.size(file);
        if (images) {
            checkMagic(file, data, 3, IMAGES_MAGIC, "image");
            checkLength(file, size, declaredLength(file, head, 3), describe(head, 3));
            return buf.getInt(4);
        }
        checkMagic(file, data, 1, LABELS_MAGIC, "label");
        checkLength(file, size, declaredLength(file, head, 1), describe(head, 1));
        return buf.getInt(4);
    }

    /** Largest data this reader holds in one array. */
    static final long MAX_BYTES = Integer.MAX_VALUE - 64;
    /** Deflate cannot expand data by more than about 1032:1; a bit of slack for the gzip framing. */
    static final long MAX_GZIP_RATIO = 1100;

    /**
     * The file's bytes, gunzipped if the content is gzip-compressed. The header is read and
     * checked first; then at most the size it declares is read (never more, so a gzip bomb costs
     * nothing), and one more byte to detect trailing data.
     */
    private static byte[] readContent(Path file, int dims, int magic, String kind) throws IOException {
        InputStream raw;
        try {
            raw = Files.newInputStream(file);
        } catch (NoSuchFileException e) {
            throw new NoSuchFileException(file.toString(), null, "IDX file not found");
        }
        long fileSize = Files.size(file);
        try (InputStream buffered = new java.io.BufferedInputStream(raw, 1 << 16)) {
            buffered.mark(2);
            byte[] sig = buffered.readNBytes(2);
            buffered.reset();
            boolean gzip = sig.length == 2 && (sig[0] & 0xff) == 0x1f && (sig[1] & 0xff) == 0x8b;
            InputStream in = gzip ? new GZIPInputStream(buffered, 1 << 16) : buffered;
            int headerLength = 4 + 4 * dims;
            byte[] head = in.readNBytes(headerLength);
            checkMagic(file, head, dims, magic, kind);
            long expected = declaredLength(file, head, dims);
            String declared = describe(head, dims);
            if (expected > MAX_BYTES) {
                throw new IdxFormatException(file, "header declares " + declared + " (" + expected
                        + " bytes), more than this reader supports (" + MAX_BYTES + " bytes)");
            }
            if (!gzip && fileSize != expected) {
                checkLength(file, fileSize, expected, declared);
            }
            if (gzip && expected > fileSize * MAX_GZIP_RATIO) {
                throw new IdxFormatException(file, "file is truncated: header declares " + declared + " (" + expected
                        + " bytes) but a gzip file of " + fileSize + " bytes cannot hold that much");
            }
            byte[] data = java.util.Arrays.copyOf(head, (int) expected);
            int n = in.readNBytes(data, headerLength, (int) expected - headerLength);
            if (n < expected - headerLength) {
                checkLength(file, headerLength + (long) n, expected, declared);
            }
            if (in.read() != -1) {
                if (gzip) {
                    throw new IdxFormatException(file, "file has unexpected trailing bytes: header declares " + declared
                            + " (" + expected + " bytes) but the decompressed content is longer (not read further)");
                }
                checkLength(file, fileSize, expected, declared);
            }
            return data;
        } catch (EOFException | ZipException e) {
            throw new IdxFormatException(file, "gzip-compressed content is damaged or truncated (" + e.getMessage()
                    + ")");
        }
    }

    /** The whole length (header and data) a checked header declares; throws on negative or zero sizes. */
    private static long declaredLength(Path file, byte[] head, int dims) throws IdxFormatException {
        ByteBuffer buf = ByteBuffer.wrap(head);
        int count = buf.getInt(4);
        if (dims == 3) {
            int rows = buf.getInt(8);
            int cols = buf.getInt(12);
            if (count < 0 || rows <= 0 || cols <= 0) {
                throw new IdxFormatException(file, "header declares " + Integer.toUnsignedString(count) + " images of "
                        + Integer.toUnsignedString(rows) + "x" + Integer.toUnsignedString(cols)
                        + " pixels, which is not a valid size");
            }
            try {
                return Math.addExact(16L, Math.multiplyExact(Math.multiplyExact((long) count, rows), (long) cols));
            } catch (ArithmeticException overflow) {
                return Long.MAX_VALUE;
            }
        }
        if (count < 0) {
            throw new IdxFormatException(file, "header declares " + Integer.toUnsignedString(count)
                    + " labels, which is not a valid count");
        }
        return 8L + count;
    }

    private static String describe(byte[] head, int dims) {
        ByteBuffer buf = ByteBuffer.wrap(head);
        return dims == 3 ? buf.getInt(4) + " images of " + buf.getInt(8) + "x" + buf.getInt(12) + " pixels"
                : buf.getInt(4) + " labels";
    }

    private static void checkMagic(Path file, byte[] data, int dims, int expectedMagic, String kind)
            throws IdxFormatException {
        String want = String.format("magic number 0x%08X (unsigned-byte %s file)", expectedMagic, kind);
        if (data.length < 4) {
            throw new IdxFormatException(file, "file is truncated: only " + data.length
                    + " bytes, too short for an IDX header; expected " + want);
        }
        int magic = ByteBuffer.wrap(data).getInt(0);
        if (data[0] != 0 || data[1] != 0) {
            throw new IdxFormatException(file, String.format("not an IDX file: magic number is 0x%08X, expected %s",
                    magic, want));
        }
        int type = data[2] & 0xff;
        int fileDims = data[3] & 0xff;
        if (type != 0x08) {
            throw new IdxFormatException(file, String.format("magic number 0x%08X declares IDX data type 0x%02X (%s); "
                    + "only unsigned bytes (0x08) are supported, expected %s", magic, type, typeName(type), want));
        }
        if (fileDims != dims) {
            String what = fileDims == 1 ? " (this looks like a label file)"
                    : fileDims == 3 ? " (this looks like an image file)" : "";
            throw new IdxFormatException(file, String.format("magic number 0x%08X declares %d dimension(s)%s, expected %s",
                    magic, fileDims, what, want));
        }
        int headerLength = 4 + 4 * dims;
        if (data.length < headerLength) {
            throw new IdxFormatException(file, "file is truncated inside its header: " + data.length + " bytes, the "
                    + kind + " header alone has " + headerLength);
        }
    }

    private static void checkLength(Path file, long actual, long expected, String declared)
            throws IdxFormatException {
        if (actual < expected) {
            throw new IdxFormatException(file, "file is truncated: header declares " + declared + " (" + expected
                    + " bytes) but the file has only " + actual + " bytes");
        }
        if (actual > expected) {
            throw new IdxFormatException(file, "file has " + (actual - expected) + " unexpected trailing bytes: header "
                    + "declares " + declared + " (" + expected + " bytes) but the file has " + actual + " bytes");
        }
    }

    private static String typeName(int type) {
        return switch (type) {
            case 0x08 -> "unsigned byte";
            case 0x09 -> "signed byte";
            case 0x0B -> "short";
            case 0x0C -> "int";
            case 0x0D -> "float";
            case 0x0E -> "double";
            default -> "unknown";
        };
    }
}
