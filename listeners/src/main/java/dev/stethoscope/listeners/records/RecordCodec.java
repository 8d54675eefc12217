package dev.stethoscope.listeners.records;

import java.io.DataInput;
import java.io.DataOutput;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Compact binary helpers for record bodies: length-prefixed arrays and
 * nullable strings over {@link DataOutput}/{@link DataInput} (big-endian).
 *
 * <p>Reading never trusts a length field: every length is checked against the bytes left in
 * the record ({@link Input}, which {@link StethoscopeRecord#decode} always uses) before anything
 * is allocated, so a corrupt or crafted 40-byte record cannot ask for gigabytes; a negative
 * length other than -1 (null) is refused. Without an {@link Input}, lengths are capped at
 * {@link #MAX_ELEMENTS}. Failures are {@link IOException}s naming the field.
 */
public final class RecordCodec {
    /** Bound of one length when the bytes left are unknown (not an {@link Input}). */
    public static final int MAX_ELEMENTS = 1 << 26;

    private RecordCodec() {
    }

    /** A record's bytes as a {@link java.io.DataInputStream} that knows how many bytes are left. */
    public static final class Input extends java.io.DataInputStream {
        private final java.io.ByteArrayInputStream bytes;

        private Input(java.io.ByteArrayInputStream bytes) {
            super(bytes);
            this.bytes = bytes;
        }

        /** Reads {@code b}. */
        public static Input of(byte[] b) {
            return new Input(new java.io.ByteArrayInputStream(b));
        }

        /** Bytes not read yet. */
        public int remaining() {
            return bytes.available();
        }
    }

    /**
     * Reads a length field: -1 (null) or a count whose elements, each at least
     * {@code bytesPerElement} bytes, fit in the bytes left.
     *
     * @throws IOException naming {@code what} if the length is negative (other than -1) or too large
     */
    public static int readLength(DataInput in, int bytesPerElement, String what) throws IOException {
        int n = in.readInt();
        if (n < -1) {
            throw new IOException("Corrupt record: " + what + " has length " + n);
        }
        if (n > 0) {
            long need = (long) n * Math.max(1, bytesPerElement);
            if (in instanceof Input i) {
                if (need > i.remaining()) {
                    throw new IOException("Corrupt record: " + what + " has length " + n + " (" + need
                            + " bytes) but only " + i.remaining() + " bytes are left");
                }
            } else if (n > MAX_ELEMENTS) {
                throw new IOException("Corrupt record: " + what + " has length " + n + ", more than " + MAX_ELEMENTS);
            }
        }
        return n;
    }

    /** Reads a count that must be {@code >= 0} and fit in the bytes left (see {@link #readLength}). */
    public static int readCount(DataInput in, int bytesPerElement, String what) throws IOException {
        int n = readLength(in, bytesPerElement, what);
        if (n < 0) {
            throw new IOException("Corrupt record: " + what + " has length " + n);
        }
        return n;
    }

    /** Writes {@code b} as its length (-1 for null) and its bytes. */
    public static void writeBytes(DataOutput out, byte[] b) throws IOException {
        out.writeInt(b == null ? -1 : b.length);
        if (b != null) {
            out.write(b);
        }
    }

    /** Reads what {@link #writeBytes} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static byte[] readBytes(DataInput in) throws IOException {
        int n = readLength(in, 1, "byte array");
        if (n < 0) {
            return null;
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return b;
    }

    /** Writes {@code s} as the length of its UTF-8 bytes (-1 for null) and those bytes. */
    public static void writeString(DataOutput out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    /** Reads what {@link #writeString} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static String readString(DataInput in) throws IOException {
        int n = readLength(in, 1, "string");
        if (n < 0) {
            return null;
        }
        byte[] b = new byte[n];
        in.readFully(b);
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Writes {@code list} as its size (-1 for null) and each string as {@link #writeString} does. */
    public static void writeStrings(DataOutput out, List<String> list) throws IOException {
        out.writeInt(list == null ? -1 : list.size());
        if (list != null) {
            for (String s : list) {
                writeString(out, s);
            }
        }
    }

    /** Reads what {@link #writeStrings} wrote (null for size -1). */
    public static List<String> readStrings(DataInput in) throws IOException {
        int n = readLength(in, 4, "string list");
        if (n < 0) {
            return null;
        }
        List<String> l = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            l.add(readString(in));
        }
        return l;
    }

    /** Writes {@code a} as its length (-1 for null) and its values. */
    public static void writeDoubles(DataOutput out, double[] a) throws IOException {
        out.writeInt(a == null ? -1 : a.length);
        if (a != null) {
            for (double v : a) {
                out.writeDouble(v);
            }
        }
    }

    /** Reads what {@link #writeDoubles} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static double[] readDoubles(DataInput in) throws IOException {
        int n = readLength(in, 8, "double array");
        if (n < 0) {
            return null;
        }
        double[] a = new double[n];
        for (int i = 0; i < n; i++) {
            a[i] = in.readDouble();
        }
        return a;
    }

    /** Writes {@code a} as its length (-1 for null) and its values. */
    public static void writeFloats(DataOutput out, float[] a) throws IOException {
        out.writeInt(a == null ? -1 : a.length);
        if (a != null) {
            for (float v : a) {
                out.writeFloat(v);
            }
        }
    }

    /** Reads what {@link #writeFloats} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static float[] readFloats(DataInput in) throws IOException {
        int n = readLength(in, 4, "float array");
        if (n < 0) {
            return null;
        }
        float[] a = new float[n];
        for (int i = 0; i < n; i++) {
            a[i] = in.readFloat();
        }
        return a;
    }

    /** Writes {@code a} as its length (-1 for null) and its values. */
    public static void writeInts(DataOutput out, int[] a) throws IOException {
        out.writeInt(a == null ? -1 : a.length);
        if (a != null) {
            for (int v : a) {
                out.writeInt(v);
            }
        }
    }

    /** Reads what {@link #writeInts} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static int[] readInts(DataInput in) throws IOException {
        int n = readLength(in, 4, "int array");
        if (n < 0) {
            return null;
        }
        int[] a = new int[n];
        for (int i = 0; i < n; i++) {
            a[i] = in.readInt();
        }
        return a;
    }

    /** Writes {@code a} as its length (-1 for null) and its values. */
    public static void writeLongs(DataOutput out, long[] a) throws IOException {
        out.writeInt(a == null ? -1 : a.length);
        if (a != null) {
            for (long v : a) {
                out.writeLong(v);
            }
        }
    }

    /** Reads what {@link #writeLongs} wrote (null for length -1); a length beyond the bytes left is an {@link IOException}. */
    public static long[] readLongs(DataInput in) throws IOException {
        int n = readLength(in, 8, "long array");
        if (n < 0) {
            return null;
        }
        long[] a = new long[n];
        for (int i = 0; i < n; i++) {
            a[i] = in.readLong();
        }
        return a;
    }

    /** JSON-friendly copy of a double array: non-finite values become null (JSON has no NaN). */
    public static List<Double> jsonDoubles(double[] a) {
        if (a == null) {
            return null;
        }
        List<Double> l = new ArrayList<>(a.length);
        for (double v : a) {
            l.add(Double.isFinite(v) ? v : null);
        }
        return l;
    }

    /** JSON-friendly number: non-finite values become null. */
    public static Double jsonDouble(double v) {
        return Double.isFinite(v) ? v : null;
    }
}
