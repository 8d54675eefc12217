package dev.stethoscope.listeners.records;

import java.io.ByteArrayOutputStream;
import java.io.DataOutput;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.RecordComponent;
import java.lang.reflect.Type;
import java.lang.reflect.WildcardType;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The one codec of record payloads: it derives a payload's binary form and its JSON form from
 * the components of its Java {@code record} class, by reflection (cached per class).
 *
 * <p><b>Supported component types</b>: primitives and their boxes, {@code String}, enums (by
 * name), arrays of {@code int, long, float, double, byte, boolean}, {@code List<X>},
 * {@code Map<String, X>} (order kept) and nested records, where X is again any supported type;
 * any object may be null. A record class with another component type is refused with an
 * {@link IllegalArgumentException} naming it.
 *
 * <p><b>Binary form</b> (big-endian): a record is its component count (int; -1 = null) followed
 * by the values in declaration order; primitives as {@link DataOutput} writes them; boxes as a
 * presence byte and the value; strings, enums (their name), arrays, lists and maps as a length
 * (-1 = null) and the elements; map entries as key then value. Every length read is bounded by
 * the bytes left ({@link RecordCodec#readLength}), so crafted bytes cannot make the reader
 * allocate more than the record's size.
 *
 * <p><b>Versioning</b> is append-only: a new component is only ever added at the end of a
 * record (never removed, renamed or reordered). A reader that knows more components than were
 * written fills the missing ones with defaults (0, false, NaN for float and double, null for
 * objects), which the record's compact constructor may normalise; a record with more components
 * than the reader knows was written by a newer Stethoscope and is refused with an
 * {@link IOException} saying so. Nested records carry their own count, so they evolve the same
 * way. The compact constructor runs on every decoded record, so its validation refuses
 * inconsistent bytes too.
 *
 * <p><b>JSON form</b> ({@link #toJson}): a map from component name to value; numbers stay
 * numbers, non-finite floats and doubles become null (JSON has no NaN), primitive arrays become
 * lists except {@code byte[]}, which becomes a base64 string, enums their name and nested
 * records maps.
 */
public final class PayloadCodec {
    private static final ClassValue<Shape> SHAPES = new ClassValue<>() {
        @Override
        protected Shape computeValue(Class<?> type) {
            return new Shape(type);
        }
    };

    private PayloadCodec() {
    }

    /** The binary form of {@code payload}. */
    public static byte[] encode(Record payload) {
        ByteArrayOutputStream bos = new ByteArrayOutputStream(256);
        try (DataOutputStream out = new DataOutputStream(bos)) {
            write(out, payload);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bos.toByteArray();
    }

    /** Decodes a whole byte array as one payload of {@code type}; bytes left over are refused. */
    public static <P extends Record> P decode(byte[] bytes, Class<P> type) throws IOException {
        RecordCodec.Input in = RecordCodec.Input.of(bytes);
        P p;
        try {
            p = read(in, type);
        } catch (java.io.EOFException e) {
            throw new IOException("Corrupt " + type.getSimpleName() + " payload: its " + bytes.length
                    + " bytes end before its last value (truncated)", e);
        }
        if (in.remaining() > 0) {
            throw new IOException("Corrupt " + type.getSimpleName() + " payload: " + in.remaining()
                    + " unexpected bytes after it");
        }
        return p;
    }

    /** Writes {@code payload} (not null). */
    public static void write(DataOutput out, Record payload) throws IOException {
        if (payload == null) {
            throw new IllegalArgumentException("A payload must not be null");
        }
        shape(payload.getClass()).write(out, payload);
    }

    /**
     * Reads one payload of {@code type}.
     *
     * @throws IOException if the bytes are truncated or inconsistent, or written by a newer
     *                     version of the record class (more components than it has)
     */
    public static <P extends Record> P read(RecordCodec.Input in, Class<P> type) throws IOException {
        Object o = shape(type).read(in, type.getSimpleName());
        if (o == null) {
            throw new IOException("Corrupt " + type.getSimpleName() + " payload: it is null");
        }
        return type.cast(o);
    }

    /** The payload as JSON-ready values: component name to value (see the class comment). */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> toJson(Record payload) {
        return (Map<String, Object>) shape(payload.getClass()).json(payload);
    }

    /** The component names of a payload class, in declaration (and binary) order. */
    public static List<String> componentNames(Class<? extends Record> type) {
        return shape(type).names;
    }

    private static Shape shape(Class<?> type) {
        try {
            return SHAPES.get(type);
        } catch (IllegalArgumentException e) {
            throw e;
        }
    }

    /** How one value of some declared type is written, read, turned into JSON and defaulted. */
    private interface Value {
        void write(DataOutput out, Object v) throws IOException;

        Object read(RecordCodec.Input in, String what) throws IOException;

        Object json(Object v);

        /** The value a component absent from older bytes gets. */
        default Object missing() {
            return null;
        }

        /** The fewest bytes one encoded value takes (bounds the lengths of lists and maps). */
        int minBytes();
    }

    private static Value value(Type t, String where) {
        if (t instanceof Class<?> c) {
            if (c.isPrimitive()) {
                return primitive(c);
            }
            if (c == String.class) {
                return new StringValue();
            }
            if (c.isEnum()) {
                return new EnumValue(c);
            }
            if (c.isArray() && c.getComponentType().isPrimitive()) {
                return new ArrayValue(c.getComponentType());
            }
            if (c.isRecord()) {
                return shape(c);
            }
            Class<?> unboxed = unbox(c);
            if (unboxed != null) {
                return new BoxedValue(primitive(unboxed));
            }
        } else if (t instanceof ParameterizedType p && p.getRawType() instanceof Class<?> raw) {
            Type[] args = p.getActualTypeArguments();
            if (raw == List.class) {
                return new ListValue(value(bound(args[0]), where));
            }
            if (raw == Map.class && bound(args[0]) == String.class) {
                return new MapValue(value(bound(args[1]), where));
            }
        }
        String name = t instanceof GenericArrayType ? t.getTypeName() : t.getTypeName();
        throw new IllegalArgumentException("Payload component " + where + " has type " + name + ", which the codec "
                + "does not support (primitives and boxes, String, enums, primitive arrays, List<X>, "
                + "Map<String, X>, records)");
    }

    private static Type bound(Type t) {
        return t instanceof WildcardType w ? w.getUpperBounds()[0] : t;
    }

    private static Class<?> unbox(Class<?> c) {
        if (c == Integer.class) {
            return int.class;
        } else if (c == Long.class) {
            return long.class;
        } else if (c == Double.class) {
            return double.class;
        } else if (c == Float.class) {
            return float.class;
        } else if (c == Boolean.class) {
            return boolean.class;
        } else if (c == Short.class) {
            return short.class;
        } else if (c == Byte.class) {
            return byte.class;
        } else if (c == Character.class) {
            return char.class;
        }
        return null;
    }

    private static Value primitive(Class<?> c) {
        if (c == int.class) {
            return new Prim(4, 0, (o, v) -> o.writeInt((Integer) v), in -> in.readInt());
        } else if (c == long.class) {
            return new Prim(8, 0L, (o, v) -> o.writeLong((Long) v), in -> in.readLong());
        } else if (c == double.class) {
            return new Prim(8, Double.NaN, (o, v) -> o.writeDouble((Double) v), in -> in.readDouble()) {
                @Override
                public Object json(Object v) {
                    return v != null && Double.isFinite((Double) v) ? v : null;
                }
            };
        } else if (c == float.class) {
            return new Prim(4, Float.NaN, (o, v) -> o.writeFloat((Float) v), in -> in.readFloat()) {
                @Override
                public Object json(Object v) {
                    return v != null && Float.isFinite((Float) v) ? v : null;
                }
            };
        } else if (c == boolean.class) {
            return new Prim(1, false, (o, v) -> o.writeBoolean((Boolean) v), in -> in.readBoolean());
        } else if (c == short.class) {
            return new Prim(2, (short) 0, (o, v) -> o.writeShort((Short) v), in -> in.readShort());
        } else if (c == byte.class) {
            return new Prim(1, (byte) 0, (o, v) -> o.writeByte((Byte) v), in -> in.readByte());
        } else if (c == char.class) {
            return new Prim(2, (char) 0, (o, v) -> o.writeChar((Character) v), in -> in.readChar());
        }
        throw new IllegalArgumentException("Unsupported primitive " + c);
    }

    private interface Writer {
        void write(DataOutput out, Object v) throws IOException;
    }

    private interface Reader {
        Object read(RecordCodec.Input in) throws IOException;
    }

    private static class Prim implements Value {
        private final int bytes;
        private final Object missing;
        private final Writer writer;
        private final Reader reader;

        Prim(int bytes, Object missing, Writer writer, Reader reader) {
            this.bytes = bytes;
            this.missing = missing;
            this.writer = writer;
            this.reader = reader;
        }

        @Override
        public void write(DataOutput out, Object v) throws IOException {
            writer.write(out, v);
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            return reader.read(in);
        }

        @Override
        public Object json(Object v) {
            return v;
        }

        @Override
        public Object missing() {
            return missing;
        }

        @Override
        public int minBytes() {
            return bytes;
        }
    }

    private record BoxedValue(Value prim) implements Value {
        @Override
        public void write(DataOutput out, Object v) throws IOException {
            out.writeBoolean(v != null);
            if (v != null) {
                prim.write(out, v);
            }
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            return in.readBoolean() ? prim.read(in, what) : null;
        }

        @Override
        public Object json(Object v) {
            return prim.json(v);
        }

        @Override
        public int minBytes() {
            return 1;
        }
    }

    private record StringValue() implements Value {
        @Override
        public void write(DataOutput out, Object v) throws IOException {
            RecordCodec.writeString(out, (String) v);
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            return RecordCodec.readString(in);
        }

        @Override
        public Object json(Object v) {
            return v;
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }

    private record EnumValue(Class<?> type) implements Value {
        @Override
        public void write(DataOutput out, Object v) throws IOException {
            RecordCodec.writeString(out, v == null ? null : ((Enum<?>) v).name());
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            String name = RecordCodec.readString(in);
            if (name == null) {
                return null;
            }
            for (Object c : type.getEnumConstants()) {
                if (((Enum<?>) c).name().equals(name)) {
                    return c;
                }
            }
            throw new IOException("Corrupt record: " + what + " is '" + name + "', not one of "
                    + Arrays.toString(type.getEnumConstants()) + " (written by a newer Stethoscope?)");
        }

        @Override
        public Object json(Object v) {
            return v == null ? null : ((Enum<?>) v).name();
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }

    private record ArrayValue(Class<?> element) implements Value {
        private int elementBytes() {
            if (element == long.class || element == double.class) {
                return 8;
            } else if (element == int.class || element == float.class) {
                return 4;
            } else if (element == short.class || element == char.class) {
                return 2;
            }
            return 1;
        }

        @Override
        public void write(DataOutput out, Object v) throws IOException {
            if (v == null) {
                out.writeInt(-1);
                return;
            }
            int n = java.lang.reflect.Array.getLength(v);
            out.writeInt(n);
            if (v instanceof byte[] b) {
                out.write(b);
            } else if (v instanceof int[] a) {
                for (int x : a) {
                    out.writeInt(x);
                }
            } else if (v instanceof long[] a) {
                for (long x : a) {
                    out.writeLong(x);
                }
            } else if (v instanceof double[] a) {
                for (double x : a) {
                    out.writeDouble(x);
                }
            } else if (v instanceof float[] a) {
                for (float x : a) {
                    out.writeFloat(x);
                }
            } else if (v instanceof boolean[] a) {
                for (boolean x : a) {
                    out.writeBoolean(x);
                }
            } else if (v instanceof short[] a) {
                for (short x : a) {
                    out.writeShort(x);
                }
            } else if (v instanceof char[] a) {
                for (char x : a) {
                    out.writeChar(x);
                }
            }
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            int n = RecordCodec.readLength(in, elementBytes(), what);
            if (n < 0) {
                return null;
            }
            if (element == byte.class) {
                byte[] b = new byte[n];
                in.readFully(b);
                return b;
            } else if (element == int.class) {
                int[] a = new int[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readInt();
                }
                return a;
            } else if (element == long.class) {
                long[] a = new long[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readLong();
                }
                return a;
            } else if (element == double.class) {
                double[] a = new double[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readDouble();
                }
                return a;
            } else if (element == float.class) {
                float[] a = new float[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readFloat();
                }
                return a;
            } else if (element == boolean.class) {
                boolean[] a = new boolean[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readBoolean();
                }
                return a;
            } else if (element == short.class) {
                short[] a = new short[n];
                for (int i = 0; i < n; i++) {
                    a[i] = in.readShort();
                }
                return a;
            }
            char[] a = new char[n];
            for (int i = 0; i < n; i++) {
                a[i] = in.readChar();
            }
            return a;
        }

        @Override
        public Object json(Object v) {
            if (v == null) {
                return null;
            }
            if (v instanceof byte[] b) {
                return Base64.getEncoder().encodeToString(b);
            }
            if (v instanceof double[] a) {
                return RecordCodec.jsonDoubles(a);
            }
            if (v instanceof float[] a) {
                List<Float> l = new ArrayList<>(a.length);
                for (float x : a) {
                    l.add(Float.isFinite(x) ? x : null);
                }
                return l;
            }
            int n = java.lang.reflect.Array.getLength(v);
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                l.add(java.lang.reflect.Array.get(v, i));
            }
            return l;
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }

    private record ListValue(Value element) implements Value {
        @Override
        public void write(DataOutput out, Object v) throws IOException {
            if (v == null) {
                out.writeInt(-1);
                return;
            }
            List<?> l = (List<?>) v;
            out.writeInt(l.size());
            for (Object o : l) {
                element.write(out, o);
            }
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            int n = RecordCodec.readLength(in, element.minBytes(), what);
            if (n < 0) {
                return null;
            }
            List<Object> l = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                l.add(element.read(in, what + "[" + i + "]"));
            }
            return Collections.unmodifiableList(l);
        }

        @Override
        public Object json(Object v) {
            if (v == null) {
                return null;
            }
            List<?> l = (List<?>) v;
            List<Object> out = new ArrayList<>(l.size());
            for (Object o : l) {
                out.add(element.json(o));
            }
            return out;
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }

    private record MapValue(Value value) implements Value {
        @Override
        public void write(DataOutput out, Object v) throws IOException {
            if (v == null) {
                out.writeInt(-1);
                return;
            }
            Map<?, ?> m = (Map<?, ?>) v;
            out.writeInt(m.size());
            for (Map.Entry<?, ?> e : m.entrySet()) {
                RecordCodec.writeString(out, (String) e.getKey());
                value.write(out, e.getValue());
            }
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            int n = RecordCodec.readLength(in, 4 + value.minBytes(), what);
            if (n < 0) {
                return null;
            }
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < n; i++) {
                String k = RecordCodec.readString(in);
                if (k == null) {
                    throw new IOException("Corrupt record: " + what + " has a null key");
                }
                m.put(k, value.read(in, what + "." + k));
            }
            return Collections.unmodifiableMap(m);
        }

        @Override
        public Object json(Object v) {
            if (v == null) {
                return null;
            }
            Map<String, Object> out = new LinkedHashMap<>();
            for (Map.Entry<?, ?> e : ((Map<?, ?>) v).entrySet()) {
                out.put(String.valueOf(e.getKey()), value.json(e.getValue()));
            }
            return out;
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }

    /** A record class: its components' accessors and values, and its canonical constructor. */
    private static final class Shape implements Value {
        private final Class<?> type;
        private final List<String> names;
        private final Method[] accessors;
        private final Constructor<?> constructor;
        private volatile Value[] values; // built lazily so that a record may nest itself

        Shape(Class<?> type) {
            if (!type.isRecord()) {
                throw new IllegalArgumentException(type.getName() + " is not a record class");
            }
            this.type = type;
            RecordComponent[] cs = type.getRecordComponents();
            this.accessors = new Method[cs.length];
            Class<?>[] params = new Class<?>[cs.length];
            List<String> n = new ArrayList<>();
            for (int i = 0; i < cs.length; i++) {
                accessors[i] = cs[i].getAccessor();
                accessors[i].setAccessible(true);
                params[i] = cs[i].getType();
                n.add(cs[i].getName());
            }
            this.names = List.copyOf(n);
            try {
                this.constructor = type.getDeclaredConstructor(params);
                constructor.setAccessible(true);
            } catch (NoSuchMethodException e) {
                throw new IllegalArgumentException(type.getName() + " has no canonical constructor", e);
            }
        }

        private Value[] values() {
            Value[] v = values;
            if (v == null) {
                RecordComponent[] cs = type.getRecordComponents();
                v = new Value[cs.length];
                for (int i = 0; i < cs.length; i++) {
                    v[i] = value(cs[i].getGenericType(), type.getSimpleName() + "." + cs[i].getName());
                }
                values = v;
            }
            return v;
        }

        private Object get(Object record, int i) {
            try {
                return accessors[i].invoke(record);
            } catch (IllegalAccessException e) {
                throw new IllegalStateException(e);
            } catch (InvocationTargetException e) {
                throw new IllegalStateException("Accessor " + accessors[i] + " failed", e.getCause());
            }
        }

        @Override
        public void write(DataOutput out, Object v) throws IOException {
            if (v == null) {
                out.writeInt(-1);
                return;
            }
            Value[] vs = values();
            out.writeInt(vs.length);
            for (int i = 0; i < vs.length; i++) {
                vs[i].write(out, get(v, i));
            }
        }

        @Override
        public Object read(RecordCodec.Input in, String what) throws IOException {
            int n = RecordCodec.readLength(in, 1, what + " component count");
            if (n < 0) {
                return null;
            }
            Value[] vs = values();
            if (n > vs.length) {
                throw new IOException(what + " has " + n + " components but this version of " + type.getSimpleName()
                        + " knows " + vs.length + " " + names + ": it was written by a newer Stethoscope; upgrade "
                        + "Stethoscope to read it");
            }
            Object[] args = new Object[vs.length];
            for (int i = 0; i < vs.length; i++) {
                args[i] = i < n ? vs[i].read(in, what + "." + names.get(i)) : vs[i].missing();
            }
            try {
                return constructor.newInstance(args);
            } catch (InvocationTargetException e) {
                Throwable c = e.getCause();
                throw new IOException("Corrupt " + type.getSimpleName() + " record: "
                        + (c.getMessage() == null ? c.toString() : c.getMessage()), c);
            } catch (InstantiationException | IllegalAccessException | IllegalArgumentException e) {
                throw new IOException("Cannot build " + type.getSimpleName() + ": " + e, e);
            }
        }

        @Override
        public Object json(Object v) {
            if (v == null) {
                return null;
            }
            Value[] vs = values();
            Map<String, Object> m = new LinkedHashMap<>();
            for (int i = 0; i < vs.length; i++) {
                m.put(names.get(i), vs[i].json(get(v, i)));
            }
            return m;
        }

        @Override
        public int minBytes() {
            return 4;
        }
    }
}
