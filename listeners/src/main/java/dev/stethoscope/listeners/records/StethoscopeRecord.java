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

    /** Reads the signal written by {@link #writeBody} in body format {@code version}. */
    protected abstract void readBody(DataInputStream in, int version) throws IOException;

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
            decode(new ByteArrayInputStream(bytes));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
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
        DataInputStream in = new DataInputStream(inputStream);
        short magic = in.readShort();
        if (magic != MAGIC) {
            throw new IOException("Not a Stethoscope record (bad magic 0x" + Integer.toHexString(magic & 0xffff) + ")");
        }
        byte headerVersion = in.readByte();
        if (headerVersion > HEADER_VERSION) {
            throw new IOException("Record header version " + headerVersion + " is newer than this reader ("
                    + HEADER_VERSION + "); upgrade Stethoscope");
        }
        int version = in.readShort();
        String type = RecordCodec.readString(in);
        acceptType(type);
        this.sessionId = RecordCodec.readString(in);
        this.workerId = RecordCodec.readString(in);
        this.timestamp = in.readLong();
        this.epoch = in.readInt();
        this.iteration = in.readLong();
        readBody(in, version);
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
