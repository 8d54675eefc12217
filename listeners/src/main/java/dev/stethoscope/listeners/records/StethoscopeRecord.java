package dev.stethoscope.listeners.records;

import org.deeplearning4j.core.storage.Persistable;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Base class of every record Stethoscope publishes to a DL4J
 * {@link org.deeplearning4j.core.storage.StatsStorageRouter}.
 *
 * <p>A record is a DL4J {@link Persistable}: it carries session id, type id,
 * worker id and a timestamp (the storage key), plus the epoch and iteration it
 * belongs to and one signal (the subclass's body). Encoding is compact binary:
 * a header (magic, header version, the subclass's body version, the key fields)
 * followed by the body written by {@link #writeBody}. Decoding checks the magic
 * and the type, and passes the body version to {@link #readBody}, so a newer
 * reader can still read older records.
 *
 * <p>Decoding trusts nothing in the bytes: lengths are bounded by the bytes left
 * ({@link RecordCodec#readLength}), a body version newer than this class writes is refused
 * (it would be misread), bytes left over after the body are refused, and
 * {@link #validateBody()} checks the fields' mutual consistency. Every failure is an
 * {@link IOException} (or {@link UncheckedIOException} from the byte-array decoders); readers
 * such as {@link RecordReader} skip and log a record that fails, so one corrupt record never
 * fails a page.
 *
 * <p>Every subclass must have a public no-argument constructor: DL4J's
 * FileStatsStorage and remote receiver rebuild records by class name.
 */
public abstract class StethoscopeRecord implements Persistable {
    private static final long serialVersionUID = 1L;
    private static final short MAGIC = 0x5354; // "ST"
    private static final byte HEADER_VERSION = 1;

    private String sessionId;
    private String workerId;
    private long timestamp;
    private int epoch;
    private long iteration;

    private transient byte[] encoded;

    /** The DL4J type id of this record class, e.g. {@code "Stethoscope.Health"}. */
    @Override
    public abstract String getTypeID();

    /** Version of the body format written by {@link #writeBody}; bump when it changes. */
    protected abstract int bodyVersion();

    /** Writes the signal. */
    protected abstract void writeBody(DataOutputStream out) throws IOException;

    /**
     * Reads the signal written by {@link #writeBody} in body format {@code version} (never newer
     * than {@link #bodyVersion()}). Read lengths with {@link RecordCodec}'s readers, which bound
     * them by the bytes left.
     */
    protected abstract void readBody(DataInputStream in, int version) throws IOException;

    /**
     * Checks, after {@link #readBody}, that the fields agree with each other (array lengths that
     * index one another, sizes that are not negative); throws an {@link IOException} naming the
     * problem. The default accepts everything.
     */
    protected void validateBody() throws IOException {
    }

    /**
     * The record's signal as JSON-ready values (maps, lists, strings, numbers;
     * no NaN or infinity). The key fields are added by {@link #toJson()}.
     */
    protected abstract Map<String, Object> bodyJson();

    /** The whole record as JSON-ready values, for the UI's routes. */
    public final Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", getTypeID());
        m.put("sessionId", sessionId);
        m.put("workerId", workerId);
        m.put("timestamp", timestamp);
        m.put("epoch", epoch);
        m.put("iteration", iteration);
        m.putAll(bodyJson());
        return m;
    }

    /** Sets the storage key and position in training; called by the publisher. */
    public void setKey(String sessionId, String workerId, long timestamp, int epoch, long iteration) {
        this.sessionId = sessionId;
        this.workerId = workerId;
        this.timestamp = timestamp;
        this.epoch = epoch;
        this.iteration = iteration;
        this.encoded = null;
    }

    @Override
    public String getSessionID() {
        return sessionId;
    }

    @Override
    public String getWorkerID() {
        return workerId;
    }

    @Override
    public long getTimeStamp() {
        return timestamp;
    }

    public int getEpoch() {
        return epoch;
    }

    public long getIteration() {
        return iteration;
    }

    /** Drops the cached encoding; subclasses call it from setters. */
    protected void invalidate() {
        encoded = null;
    }

    @Override
    public int encodingLengthBytes() {
        return encode().length;
    }

    @Override
    public byte[] encode() {
        if (encoded == null) {
            ByteArrayOutputStream bos = new ByteArrayOutputStream(256);
            try (DataOutputStream out = new DataOutputStream(bos)) {
                out.writeShort(MAGIC);
                out.writeByte(HEADER_VERSION);
                out.writeShort(bodyVersion());
                RecordCodec.writeString(out, getTypeID());
                RecordCodec.writeString(out, sessionId);
                RecordCodec.writeString(out, workerId);
                out.writeLong(timestamp);
                out.writeInt(epoch);
                out.writeLong(iteration);
                writeBody(out);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            encoded = bos.toByteArray();
        }
        return encoded.clone();
    }

    @Override
    public void encode(ByteBuffer buffer) {
        buffer.put(encode());
    }

    @Override
    public void encode(OutputStream outputStream) throws IOException {
        outputStream.write(encode());
    }

    @Override
    public void decode(byte[] bytes) {
        try {
            decode(RecordCodec.Input.of(bytes));
        } catch (java.io.EOFException e) {
            throw new UncheckedIOException(new IOException("Corrupt " + getTypeID() + " record: its " + bytes.length
                    + " bytes end before its last field (truncated)", e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            throw new UncheckedIOException(new IOException("Corrupt " + getTypeID() + " record: " + e, e));
        }
    }

    @Override
    public void decode(ByteBuffer buffer) {
        byte[] b = new byte[buffer.remaining()];
        buffer.get(b);
        decode(b);
    }

    @Override
    public void decode(InputStream inputStream) throws IOException {
        RecordCodec.Input in = inputStream instanceof RecordCodec.Input i ? i
                : RecordCodec.Input.of(inputStream.readAllBytes());
        short magic = in.readShort();
        if (magic != MAGIC) {
            throw new IOException("Not a Stethoscope record (bad magic 0x" + Integer.toHexString(magic & 0xffff) + ")");
        }
        byte headerVersion = in.readByte();
        if (headerVersion < 1 || headerVersion > HEADER_VERSION) {
            throw new IOException("Record header version " + headerVersion + " is newer than this reader ("
                    + HEADER_VERSION + "); upgrade Stethoscope");
        }
        int version = in.readShort();
        if (version < 0 || version > bodyVersion()) {
            throw new IOException("Record body version " + version + " of " + getTypeID() + " is not one this reader "
                    + "knows (0.." + bodyVersion() + "): written by a newer Stethoscope, or corrupt; upgrade Stethoscope");
        }
        String type = RecordCodec.readString(in);
        acceptType(type);
        this.sessionId = RecordCodec.readString(in);
        this.workerId = RecordCodec.readString(in);
        this.timestamp = in.readLong();
        this.epoch = in.readInt();
        this.iteration = in.readLong();
        readBody(in, version);
        if (in.remaining() > 0) {
            throw new IOException("Corrupt " + getTypeID() + " record: " + in.remaining()
                    + " unexpected bytes after its body");
        }
        validateBody();
        this.encoded = null;
    }

    /**
     * Checks the type id read from an encoding; by default it must equal this
     * class's {@link #getTypeID()}. Records whose type id is data override it.
     */
    protected void acceptType(String typeId) throws IOException {
        if (!getTypeID().equals(typeId)) {
            throw new IOException("Record of type " + typeId + " cannot be decoded as " + getTypeID());
        }
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + toJson();
    }
}
