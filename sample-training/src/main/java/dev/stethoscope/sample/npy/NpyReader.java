package dev.stethoscope.sample.npy;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Reads NumPy {@code .npy} files (format versions 1, 2 and 3) holding float32 or float64 arrays
 * (either byte order; also int32/int64, converted), in C or Fortran order, into a double
 * {@link INDArray} of the stored shape. Object arrays (pickles) are rejected.
 */
public final class NpyReader {
    private static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};
    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    private NpyReader() {
    }

    /**
     * Reads {@code file}.
     *
     * @throws IOException if it cannot be read or is not a supported .npy file (the message says why)
     */
    public static INDArray read(Path file) throws IOException {
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (IOException e) {
            throw new IOException("Cannot read " + file + ": " + e.getMessage(), e);
        }
        return parse(all, file.toString());
    }

    /** Reads a .npy stream. */
    public static INDArray read(InputStream in, String name) throws IOException {
        return parse(in.readAllBytes(), name);
    }

    private static IOException bad(String name, String why) {
        return new IOException(name + " is not a supported .npy file: " + why);
    }

    private static INDArray parse(byte[] all, String name) throws IOException {
        if (all.length < 10 || !Arrays.equals(Arrays.copyOf(all, 6), MAGIC)) {
            throw bad(name, "missing the \\x93NUMPY magic");
        }
        int major = all[6] & 0xff;
        ByteBuffer bb = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int headerLen;
        int headerStart;
        if (major == 1) {
            headerLen = bb.getShort(8) & 0xffff;
            headerStart = 10;
        } else if (major == 2 || major == 3) {
            if (all.length < 12) {
                throw bad(name, "truncated header");
            }
            headerLen = bb.getInt(8);
            headerStart = 12;
        } else {
            throw bad(name, "format version " + major + " (supported: 1, 2, 3)");
        }
        if (headerLen < 0 || headerStart + headerLen > all.length) {
            throw bad(name, "truncated header");
        }
        String header = new String(all, headerStart, headerLen,
                major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher f = FORTRAN.matcher(header);
        Matcher s = SHAPE.matcher(header);
        if (!d.find() || !f.find() || !s.find()) {
            throw bad(name, "header without descr, fortran_order or shape: " + header.trim());
        }
        String descr = d.group(1);
        boolean fortran = f.group(1).equals("True");
        List<Long> dims = new ArrayList<>();
        for (String part : s.group(1).split(",")) {
            if (!part.isBlank()) {
                long dim;
                try {
                    dim = Long.parseLong(part.trim());
                } catch (NumberFormatException e) {
                    throw bad(name, "shape (" + s.group(1) + ") has a dimension that is not an integer: '" + part.trim()
                            + "'");
                }
                if (dim < 0) {
                    throw bad(name, "shape (" + s.group(1) + ") has a negative dimension " + dim);
                }
                dims.add(dim);
            }
        }
        long[] shape = dims.stream().mapToLong(Long::longValue).toArray();
        long count = 1;
        for (long x : shape) {
            try {
                count = Math.multiplyExact(count, x);
            } catch (ArithmeticException overflow) {
                throw bad(name, "shape " + Arrays.toString(shape) + " has more elements than a long can count");
            }
        }
        if (count > Integer.MAX_VALUE) {
            throw bad(name, "too many elements (" + count + "; at most " + Integer.MAX_VALUE + ")");
        }
        if (descr.length() < 3) {
            throw bad(name, "dtype '" + descr + "'");
        }
        char order = descr.charAt(0);
        String kind = descr.substring(1);
        ByteOrder bo = order == '>' ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN;
        int size;
        switch (kind) {
            case "f4", "i4" -> size = 4;
            case "f8", "i8" -> size = 8;
            default -> throw bad(name, "dtype '" + descr + "' (supported: float32, float64, int32, int64)");
        }
        int dataStart = headerStart + headerLen;
        if ((long) all.length - dataStart < count * size) {
            throw bad(name, "data truncated: shape " + Arrays.toString(shape) + " needs " + count * size
                    + " bytes, file has " + (all.length - dataStart));
        }
        ByteBuffer data = ByteBuffer.wrap(all, dataStart, (int) (count * size)).slice().order(bo);
        double[] v = new double[(int) count];
        for (int i = 0; i < v.length; i++) {
            v[i] = switch (kind) {
                case "f4" -> data.getFloat(i * 4);
                case "f8" -> data.getDouble(i * 8);
                case "i4" -> data.getInt(i * 4);
                default -> data.getLong(i * 8);
            };
        }
        if (shape.length == 0) {
            return Nd4j.scalar(v[0]);
        }
        if (count == 0) {
            throw bad(name, "shape " + Arrays.toString(shape) + " holds no elements");
        }
        return Nd4j.create(v, shape, fortran ? 'f' : 'c').dup('c');
    }
}
