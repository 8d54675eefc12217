package dev.stethoscope.listeners.spi;

import java.util.Objects;

/**
 * One kind of record a monitor publishes: the DL4J type id it is stored under (for example
 * {@code "Stethoscope.Health"}) and the Java {@code record} class of its payload. The payload's
 * components define its binary and JSON forms (see {@code dev.stethoscope.listeners.records});
 * new components are only ever appended, never removed, renamed or reordered.
 *
 * @param typeId  the DL4J type id, unique among all monitors
 * @param payload the payload's record class
 * @param <P>     the payload type
 */
public record RecordType<P extends Record>(String typeId, Class<P> payload) {
    public RecordType {
        Objects.requireNonNull(typeId, "typeId");
        Objects.requireNonNull(payload, "payload");
        if (typeId.isBlank()) {
            throw new IllegalArgumentException("A record type id must not be blank");
        }
    }

    /** Shorthand for {@code new RecordType<>(typeId, payload)}. */
    public static <P extends Record> RecordType<P> of(String typeId, Class<P> payload) {
        return new RecordType<>(typeId, payload);
    }
}
