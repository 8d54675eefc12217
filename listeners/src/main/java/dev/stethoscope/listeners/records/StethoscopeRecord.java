package dev.stethoscope.listeners.records;

import org.deeplearning4j.core.storage.Persistable;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;

/**
 * The one envelope of every record Stethoscope publishes to a DL4J
 * {@link org.deeplearning4j.core.storage.StatsStorageRouter}: a DL4J {@link Persistable} holding
 * a header (session, worker, timestamp, epoch, iteration, type ids) and a payload, a Java
 * {@code record} whose binary and JSON forms {@link PayloadCodec} derives from its components.
 *
 * <p>Two type ids: the <em>storage</em> type id is the DL4J type id the record is stored under
 * ({@link #getTypeID()}), the <em>payload</em> type id says how to decode the payload (its
 * {@link RecordTypes} entry). They are equal except for static-info records such as
 * {@link RunInfo}, which are stored under the type id of the updates they announce.
 *
 * <p>Binary form: magic "ST", header version (2), storage type id, payload type id, session,
 * worker, timestamp, epoch, iteration, then the payload ({@link PayloadCodec}). Decoding trusts
 * nothing in the bytes: lengths are bounded by the bytes left, an unknown header version or
 * payload type, a payload written by a newer Stethoscope, bytes left over and a payload its
 * record's constructor refuses are all {@link IOException}s (or {@link UncheckedIOException}s
 * from the byte-array decoders); readers such as {@link RecordReader} skip and log a record
 * that fails, so one corrupt record never fails a page. Records of header version 1 (written
 * before the versioned payload format) are refused with a message saying so.
 *
 * <p>The public no-argument constructor is for DL4J's FileStatsStorage and remote receiver,
 * which rebuild records by class name and then call {@link #decode(byte[])}.
 */
public final class StethoscopeRecord implements Persistable {
    private static final long serialVersionUID = 2L;
    private static final short MAGIC = 0x5354; // "ST"
    private static final byte HEADER_VERSION = 2;

    private transient String storageTypeId;
    private transient String payloadTypeId;
    private transient String sessionId;
    private transient String workerId;
    private transient long timestamp;
    private transient int epoch;
    private transient long iteration;
    private transient Record payload;

    private transient byte[] encoded;

    /** An empty record, for decoding (DL4J rebuilds records by class name). */
    public StethoscopeRecord() {
    }

    private StethoscopeRecord(String storageTypeId, String payloadTypeId, Record payload) {
        this.storageTypeId = storageTypeId;
        this.payloadTypeId = payloadTypeId;
        this.payload = payload;
    }

    /**
     * An update record of {@code payload}, stored under the payload's own type id.
     *
     * @throws IllegalArgumentException if the payload's class is not a registered record type
     */
    public static StethoscopeRecord of(Record payload) {
        Objects.requireNonNull(payload, "payload");
        String id = RecordTypes.typeIdOf(payload.getClass());
        return new StethoscopeRecord(id, id, payload);
    }

    /**
     * A static-info record of {@code payload} stored under {@code storageTypeId} (for example a
     * {@link RunInfo} announcing the updates of that type).
     */
    public static StethoscopeRecord staticInfo(String storageTypeId, Record payload) {
        Objects.requireNonNull(storageTypeId, "storageTypeId");
        Objects.requireNonNull(payload, "payload");
        return new StethoscopeRecord(storageTypeId, RecordTypes.typeIdOf(payload.getClass()), payload);
    }

    /** The payload. */
    public Record payload() {
        return payload;
    }

    /**
     * The payload as a {@code type}.
     *
     * @throws IllegalArgumentException naming both types if the payload is of another type
     */
    public <P extends Record> P payload(Class<P> type) {
        if (!type.isInstance(payload)) {
            throw new IllegalArgumentException("Record of type " + payloadTypeId + " holds a "
                    + (payload == null ? "null payload" : payload.getClass().getSimpleName()) + ", not a "
                    + type.getSimpleName());
        }
        return type.cast(payload);
    }

    /**
     * The payloads of type {@code type} among {@code records} (other records and other
     * {@link Persistable}s skipped), in order.
     */
    public static <P extends Record> java.util.List<P> payloads(java.util.Collection<? extends Persistable> records,
                                                                Class<P> type) {
        java.util.List<P> out = new java.util.ArrayList<>();
        for (Persistable p : records) {
            if (p instanceof StethoscopeRecord r && type.isInstance(r.payload)) {
                out.add(type.cast(r.payload));
            }
        }
        return out;
    }

    /** Whether the payload is a {@code type}. */
    public boolean holds(Class<? extends Record> type) {
        return type.isInstance(payload);
    }

    /** The type id of the payload (equals {@link #getTypeID()} except for static-info records). */
    public String getPayloadTypeID() {
        return payloadTypeId;
    }

    /** The whole record as JSON-ready values: the header keys, then the payload's components. */
    public Map<String, Object> toJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", storageTypeId);
        m.put("sessionId", sessionId);
        m.put("workerId", workerId);
        m.put("timestamp", timestamp);
        m.put("epoch", epoch);
        m.put("iteration", iteration);
        if (payload != null) {
            m.putAll(PayloadCodec.toJson(payload));
        }
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

    /** The DL4J type id this record is stored under. */
    @Override
    public String getTypeID() {
        return storageTypeId;
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

    /**
     * DL4J's epoch counter when the record was made, 0-based: the epoch in progress, or at an epoch-end
     * analysis the epoch that just ended (the page shows it plus one).
     */
    public int getEpoch() {
        return epoch;
    }

    /** DL4J's iteration counter when the record was made. */
    public long getIteration() {
        return iteration;
    }

    @Override
    public int encodingLengthBytes() {
        return encoded().length;
    }

    @Override
    public byte[] encode() {
        return encoded().clone();
    }

    private byte[] encoded() {
        if (encoded == null) {
            if (payload == null) {
                throw new IllegalStateException("An empty StethoscopeRecord cannot be encoded");
            }
            ByteArrayOutputStream bos = new ByteArrayOutputStream(256);
            try (DataOutputStream out = new DataOutputStream(bos)) {
                out.writeShort(MAGIC);
                out.writeByte(HEADER_VERSION);
                RecordCodec.writeString(out, storageTypeId);
                RecordCodec.writeString(out, payloadTypeId);
                RecordCodec.writeString(out, sessionId);
                RecordCodec.writeString(out, workerId);
                out.writeLong(timestamp);
                out.writeInt(epoch);
                out.writeLong(iteration);
                PayloadCodec.write(out, payload);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            encoded = bos.toByteArray();
        }
        return encoded;
    }

    @Override
    public void encode(ByteBuffer buffer) {
        buffer.put(encoded());
    }

    @Override
    public void encode(OutputStream outputStream) throws IOException {
        outputStream.write(encoded());
    }

    @Override
    public void decode(byte[] bytes) {
        try {
            decode(RecordCodec.Input.of(bytes));
        } catch (EOFException e) {
            throw new UncheckedIOException(new IOException("Corrupt " + typeForMessage() + " record: its "
                    + bytes.length + " bytes end before its last field (truncated)", e));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (RuntimeException e) {
            throw new UncheckedIOException(new IOException("Corrupt " + typeForMessage() + " record: " + e, e));
        }
    }

    private String typeForMessage() {
        return storageTypeId == null ? "Stethoscope" : storageTypeId;
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
        if (headerVersion == 1) {
            throw new IOException("Record written by a Stethoscope before the versioned record format (header "
                    + "version 1); this version cannot read it: train the run again");
        }
        if (headerVersion != HEADER_VERSION) {
            throw new IOException("Record header version " + headerVersion + " is not one this reader knows ("
                    + HEADER_VERSION + "): written by a newer Stethoscope, or corrupt; upgrade Stethoscope");
        }
        String storage = RecordCodec.readString(in);
        String payloadType = RecordCodec.readString(in);
        if (storage == null || payloadType == null) {
            throw new IOException("Corrupt Stethoscope record: no type id");
        }
        this.storageTypeId = storage;
        Class<? extends Record> type = RecordTypes.payloadClassOrNull(payloadType);
        if (type == null) {
            throw new IOException("Unknown Stethoscope record type '" + payloadType + "' (its monitor is not on the "
                    + "classpath, or it was written by a newer Stethoscope). Known: " + RecordTypes.typeIds());
        }
        this.payloadTypeId = payloadType;
        this.sessionId = RecordCodec.readString(in);
        this.workerId = RecordCodec.readString(in);
        this.timestamp = in.readLong();
        this.epoch = in.readInt();
        this.iteration = in.readLong();
        this.payload = PayloadCodec.read(in, type);
        if (in.remaining() > 0) {
            throw new IOException("Corrupt " + storage + " record: " + in.remaining() + " unexpected bytes after its "
                    + "payload");
        }
        this.encoded = null;
    }

    /** Java serialization writes the binary form (the payload classes need not be Serializable). */
    private void writeObject(ObjectOutputStream out) throws IOException {
        out.defaultWriteObject();
        byte[] b = encoded();
        out.writeInt(b.length);
        out.write(b);
    }

    private void readObject(ObjectInputStream in) throws IOException, ClassNotFoundException {
        in.defaultReadObject();
        int n = in.readInt();
        if (n < 0 || n > RecordCodec.MAX_ELEMENTS) {
            throw new IOException("Corrupt serialized Stethoscope record: length " + n);
        }
        byte[] b = new byte[n];
        in.readFully(b);
        decode(RecordCodec.Input.of(b));
    }

    @Override
    public String toString() {
        return "StethoscopeRecord" + toJson();
    }
}
