package dev.stethoscope.sample.data;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * Images read from (or to be written to) an IDX image file: {@code count}
 * images of {@code rows x cols} unsigned-byte pixels, stored row-major, image
 * after image, exactly as in the file.
 *
 * <p>The pixel array is owned by this object; do not modify it.
 */
public final class IdxImages {
    private final Path source;
    private final int count;
    private final int rows;
    private final int cols;
    private final byte[] pixels;

    /**
     * @param source where the images came from (for messages), may be {@code null}
     * @param count  number of images
     * @param rows   rows per image
     * @param cols   columns per image
     * @param pixels {@code count * rows * cols} pixels (unsigned bytes), not copied
     */
    public IdxImages(Path source, int count, int rows, int cols, byte[] pixels) {
        Objects.requireNonNull(pixels, "pixels");
        if (count < 0 || rows <= 0 || cols <= 0) {
            throw new IllegalArgumentException("count must be >= 0 and rows, cols > 0, got count=" + count
                    + " rows=" + rows + " cols=" + cols);
        }
        if ((long) count * rows * cols != pixels.length) {
            throw new IllegalArgumentException(count + " images of " + rows + "x" + cols + " need "
                    + ((long) count * rows * cols) + " pixels, got " + pixels.length);
        }
        this.source = source;
        this.count = count;
        this.rows = rows;
        this.cols = cols;
        this.pixels = pixels;
    }

    /** The file these images were read from, or {@code null}. */
    public Path source() {
        return source;
    }

    /** Number of images. */
    public int count() {
        return count;
    }

    /** Rows per image. */
    public int rows() {
        return rows;
    }

    /** Columns per image. */
    public int cols() {
        return cols;
    }

    /** Pixels per image ({@code rows * cols}). */
    public int pixelsPerImage() {
        return rows * cols;
    }

    /** Pixel value 0..255 of image {@code i} at ({@code r}, {@code c}). */
    public int pixel(int i, int r, int c) {
        Objects.checkIndex(i, count);
        Objects.checkIndex(r, rows);
        Objects.checkIndex(c, cols);
        return pixels[(i * rows + r) * cols + c] & 0xff;
    }

    /** The raw pixels (unsigned bytes, image after image, row-major); not a copy. */
    public byte[] rawPixels() {
        return pixels;
    }

    /** The first {@code n} images (a copy). */
    public IdxImages head(int n) {
        if (n < 0 || n > count) {
            throw new IllegalArgumentException("head(" + n + ") of " + count + " images");
        }
        return new IdxImages(source, n, rows, cols, Arrays.copyOf(pixels, n * rows * cols));
    }
}
