package dev.stethoscope.listeners.data;

import org.datavec.api.records.metadata.RecordMetaData;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.api.DataSet;

import java.io.Serializable;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Which training examples the rows of a batch are, for the per-example monitors (suspects, feature-evolution
 * exemplars), without any change to the user's data pipeline. One instance per monitor; it is fed every
 * training batch the monitor sees, in training order, and answers one stable index per row.
 *
 * <p><b>Sources</b>, decided at the first batch and kept for the run ({@link #source()}):
 * <ol>
 *   <li>{@link Source#TRACKED_INDEX}: the batch is known (the monitor's {@code track(iterator)} or
 *       {@code setBatch(ds)}) and every row carries an index ({@link ExampleIndex}: {@code RecordMetaDataIndex},
 *       e.g. from {@link IndexedArrayIterator}). The index is used as is; preferred when available.</li>
 *   <li>{@link Source#METADATA}: the batch is known and every row carries DataVec {@link RecordMetaData} of
 *       another kind (e.g. {@code RecordReaderDataSetIterator.collectMetaData(true)} gives
 *       {@code RecordMetaDataLine}/{@code RecordMetaDataURI}): each distinct {@code getLocation()} gets an index,
 *       in order of first appearance.</li>
 *   <li>{@link Source#CONTENT_HASH}: otherwise (a plain {@code net.fit(iterator)} with the monitor added by
 *       {@code addListeners}; DL4J's listener callbacks do not receive the DataSet, so its metadata cannot be
 *       seen). Each row's features (the input of the training forward pass) and label row are hashed
 *       (64 bits, over their float values); each distinct hash gets an index in order of first appearance.
 *       Exact duplicates (same features and label) are told apart by their occurrence within an epoch: the
 *       k-th copy seen in an epoch is the k-th index of that content. Exact for augmentation-free data
 *       whatever the shuffling; a data set whose every example appears once per epoch gets indices
 *       0..N-1 in the order of the first epoch.</li>
 * </ol>
 *
 * <p><b>When examples cannot be followed</b> the identity disables itself ({@link #disabled()},
 * {@link #reason()}) and answers null from then on; it never throws. That happens when (a) in an epoch after the
 * first, more than half of the first examples seen (at least {@value #CHECK_AFTER}, or half the number of
 * examples known if fewer) were never seen before: the content changes from epoch to epoch, as with random
 * augmentation, so a hash names a different example each epoch; (b) more distinct examples appear than the
 * monitor's capacity ({@code numExamples}): augmentation, or a wrong {@code numExamples}; (c) the source changes
 * during the run (e.g. tracked indices in one epoch, none in the next), which would mix two numberings.
 *
 * <p><b>Memory</b>, content hash and metadata: one open-addressing table of 64-bit keys and int values kept at
 * most half full, plus one int per example: 28 to 52 bytes per distinct example (60,000 MNIST examples: at most
 * about 3 MB). Tracked indices need nothing.
 *
 * <p><b>Cost</b>, content hash: one pass over the batch's features and labels in Java (after one bulk copy
 * out of ND4J), measured as a ratio to an epoch in docs/suspects.md ("Example identity"). {@link #nanos()}
 * reports the time spent here. Not thread-safe: used on the training thread.
 */
public final class ExampleIdentity implements Serializable {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    /** Examples seen in a later epoch before the augmentation check is made. */
    public static final int CHECK_AFTER = 256;

    /** Where the indices come from. */
    public enum Source {
        /** Indices carried by the declared DataSet ({@link ExampleIndex}). */
        TRACKED_INDEX("tracked-index"),
        /** DataVec record metadata (location) carried by the declared DataSet. */
        METADATA("metadata"),
        /** A hash of each row's features and label. */
        CONTENT_HASH("content-hash");

        private final String key;

        Source(String key) {
            this.key = key;
        }

        /** The name used in logs and records. */
        public String key() {
            return key;
        }
    }

    private final int capacity;
    private Source source;
    private String reason;
    // key -> index + 1 (0 = empty)
    private long[] keys = new long[1024];
    private int[] values = new int[1024];
    private int size;
    /** Per index: the last epoch in which it was handed out (-1 = never). */
    private int[] lastEpoch = new int[256];
    private int firstEpoch = Integer.MIN_VALUE;
    private int epoch = Integer.MIN_VALUE;
    private long seenInEpoch;
    private long newInEpoch;
    private boolean checkedEpoch;
    private long nanos;
    private long cpuNanos;

    /**
     * An identity for at most {@code capacity} distinct examples (the monitor's {@code numExamples}; use
     * {@link Integer#MAX_VALUE} for no bound).
     */
    public ExampleIdentity(int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity must be >= 1, got " + capacity);
        }
        this.capacity = capacity;
        java.util.Arrays.fill(lastEpoch, Integer.MIN_VALUE);
    }

    /** The source in use (null before the first batch). */
    public Source source() {
        return source;
    }

    /** Whether the examples cannot be followed any more (see the class comment). */
    public boolean disabled() {
        return reason != null;
    }

    /** Why it is disabled (null if not). */
    public String reason() {
        return reason;
    }

    /** Number of distinct examples named so far by metadata or content (0 for tracked indices). */
    public int distinct() {
        return size;
    }

    /** Wall time spent in {@link #identify} so far, in nanoseconds. */
    public long nanos() {
        return nanos;
    }

    /**
     * CPU time of the calling (training) thread spent in {@link #identify} so far, in nanoseconds (-1 when the
     * JVM does not measure thread CPU time).
     */
    public long cpuNanos() {
        return CPU.isCurrentThreadCpuTimeSupported() ? cpuNanos : -1;
    }

    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory
            .getThreadMXBean();

    private static long threadCpu() {
        return CPU.isCurrentThreadCpuTimeSupported() ? CPU.getCurrentThreadCpuTime() : 0;
    }

    /**
     * The indices of the rows of one training batch, or null if the identity is (or has just become) disabled.
     *
     * @param declared the DataSet declared by a tracking iterator or {@code setBatch} (null if unknown); used
     *                 only if its number of examples equals the rows of {@code features}
     * @param features the batch's features as trained (rows = examples); used when no declared source applies
     * @param labels   the batch's labels (may be null: then the features alone are hashed)
     * @param epoch    the training epoch (0-based), for duplicates and the augmentation check
     */
    public long[] identify(DataSet declared, INDArray features, INDArray labels, int epoch) {
        if (reason != null) {
            return null;
        }
        long t0 = System.nanoTime();
        long c0 = threadCpu();
        try {
            int rows = (int) features.size(0);
            if (declared != null && declared.numExamples() != rows) {
                declared = null;
            }
            Source s;
            if (declared != null && ExampleIndex.hasIndices(declared)) {
                s = Source.TRACKED_INDEX;
            } else if (declared != null && hasRecordMetaData(declared)) {
                s = Source.METADATA;
            } else {
                s = Source.CONTENT_HASH;
            }
            if (source == null) {
                source = s;
            } else if (source != s) {
                return disable("the examples were identified by " + source.key() + " so far, but a batch of epoch "
                        + (epoch + 1) + " offers only " + s.key() + " (was the iterator wrapped by track(...) "
                        + "only part of the time?); two numberings cannot be mixed");
            }
            if (s == Source.TRACKED_INDEX) {
                return ExampleIndex.indicesOf(declared);
            }
            startEpoch(epoch);
            long[] hashes = s == Source.METADATA ? metadataHashes(declared) : contentHashes(features, labels);
            long[] out = new long[rows];
            for (int i = 0; i < rows; i++) {
                int idx = indexOf(hashes[i], epoch);
                if (idx < 0) {
                    if (epoch > firstEpoch) {
                        return disable("in epoch " + (epoch + 1) + ", example " + seenInEpoch + " of the epoch "
                                + "had never been seen although numExamples (" + capacity + ") distinct examples "
                                + "were seen before: either the examples' content changes from epoch to epoch "
                                + "(random augmentation?), so a content hash cannot follow them, or numExamples is "
                                + "too small. " + HOW_TO_AUGMENTED);
                    }
                    return disable((size + 1) + " distinct examples seen in the first epoch but numExamples is "
                            + capacity + " (" + s.key() + " identity): numExamples is too small");
                }
                out[i] = idx;
            }
            if (epoch > firstEpoch && !checkedEpoch && seenInEpoch >= Math.min(CHECK_AFTER, Math.max(1, size / 2))) {
                checkedEpoch = true;
                if (2 * newInEpoch > seenInEpoch) {
                    return disable(augmentation(epoch));
                }
            }
            return out;
        } finally {
            nanos += System.nanoTime() - t0;
            cpuNanos += threadCpu() - c0;
        }
    }

    private String augmentation(int epoch) {
        return "in epoch " + (epoch + 1) + ", " + newInEpoch + " of the first " + seenInEpoch
                + " examples had never been seen in an earlier epoch: the examples' content changes from epoch "
                + "to epoch (random augmentation?), so a content hash cannot follow them. " + HOW_TO_AUGMENTED;
    }

    private static final String HOW_TO_AUGMENTED = "To follow augmented examples, give them stable indices: train "
            + "on listener.track(iterator) with an iterator whose DataSets carry RecordMetaDataIndex (e.g. "
            + "IndexedArrayIterator), augmenting after indexing";

    private long[] disable(String why) {
        reason = "Cannot follow individual training examples: " + why + ".";
        return null;
    }

    private void startEpoch(int e) {
        if (firstEpoch == Integer.MIN_VALUE) {
            firstEpoch = e;
        }
        if (e != epoch) {
            epoch = e;
            seenInEpoch = 0;
            newInEpoch = 0;
            checkedEpoch = false;
        }
    }

    /** The index of the next occurrence of content {@code h} in {@code e}; -1 when over capacity. */
    private int indexOf(long h, int e) {
        seenInEpoch++;
        for (long k = 0; ; k++) {
            long key = k == 0 ? h : mix(h + k * 0x9E3779B97F4A7C15L);
            int idx = get(key);
            if (idx < 0) {
                if (size >= capacity) {
                    return -1;
                }
                idx = size;
                put(key, idx);
                if (idx >= lastEpoch.length) {
                    int[] grown = java.util.Arrays.copyOf(lastEpoch, lastEpoch.length * 2);
                    java.util.Arrays.fill(grown, lastEpoch.length, grown.length, Integer.MIN_VALUE);
                    lastEpoch = grown;
                }
                lastEpoch[idx] = e;
                newInEpoch++;
                return idx;
            }
            if (lastEpoch[idx] != e) {
                lastEpoch[idx] = e;
                return idx;
            }
            // this content was already handed out in this epoch: the next copy
        }
    }

    private int get(long key) {
        int mask = keys.length - 1;
        for (int p = (int) mix(key) & mask; ; p = (p + 1) & mask) {
            int v = values[p];
            if (v == 0) {
                return -1;
            }
            if (keys[p] == key) {
                return v - 1;
            }
        }
    }

    private void put(long key, int index) {
        if (2 * (size + 1) > keys.length) {
            long[] oldK = keys;
            int[] oldV = values;
            keys = new long[oldK.length * 2];
            values = new int[oldV.length * 2];
            for (int i = 0; i < oldK.length; i++) {
                if (oldV[i] != 0) {
                    insert(oldK[i], oldV[i]);
                }
            }
        }
        insert(key, index + 1);
        size++;
    }

    private void insert(long key, int v) {
        int mask = keys.length - 1;
        int p = (int) mix(key) & mask;
        while (values[p] != 0) {
            p = (p + 1) & mask;
        }
        keys[p] = key;
        values[p] = v;
    }

    /** Whether every row of {@code ds} carries DataVec record metadata with a location. */
    static boolean hasRecordMetaData(DataSet ds) {
        List<? extends Serializable> meta = ds.getExampleMetaData();
        if (meta == null || meta.size() != ds.numExamples()) {
            return false;
        }
        for (Serializable s : meta) {
            if (!(s instanceof RecordMetaData r) || r.getLocation() == null) {
                return false;
            }
        }
        return true;
    }

    private static long[] metadataHashes(DataSet ds) {
        List<? extends Serializable> meta = ds.getExampleMetaData();
        long[] out = new long[meta.size()];
        for (int i = 0; i < out.length; i++) {
            RecordMetaData r = (RecordMetaData) meta.get(i);
            long h = 0xcbf29ce484222325L;
            for (byte b : (r.getReaderClass() == null ? "" : r.getReaderClass().getName() + "|")
                    .concat(r.getLocation()).getBytes(StandardCharsets.UTF_8)) {
                h = (h ^ (b & 0xff)) * 0x100000001b3L;
            }
            out[i] = mix(h);
        }
        return out;
    }

    /**
     * A 64-bit hash of each row of {@code features} (flattened) and of the same row of {@code labels} (if not
     * null), over the values as floats. Package-private for tests.
     */
    static long[] contentHashes(INDArray features, INDArray labels) {
        int rows = (int) features.size(0);
        long[] h = new long[rows];
        java.util.Arrays.fill(h, 0xcbf29ce484222325L);
        hashRows(features, h);
        if (labels != null && labels.size(0) == rows) {
            for (int i = 0; i < rows; i++) {
                h[i] = (h[i] ^ 0x5bd1e995L) * 0x100000001b3L; // separates features from labels
            }
            hashRows(labels, h);
        }
        for (int i = 0; i < rows; i++) {
            h[i] = mix(h[i]);
        }
        return h;
    }

    private static void hashRows(INDArray a, long[] h) {
        int rows = h.length;
        INDArray c = a;
        if (c.isView() || c.ordering() != 'c' || c.data().length() != c.length()) {
            c = c.dup('c');
        }
        int cols = rows == 0 ? 0 : (int) (c.length() / rows);
        if (c.dataType() == DataType.FLOAT) {
            float[] v = c.data().asFloat();
            for (int i = 0, o = 0; i < rows; i++) {
                long x = h[i];
                for (int j = 0; j < cols; j++, o++) {
                    x = step(x, Float.floatToIntBits(v[o]));
                }
                h[i] = x;
            }
        } else {
            double[] v = c.data().asDouble();
            for (int i = 0, o = 0; i < rows; i++) {
                long x = h[i];
                for (int j = 0; j < cols; j++, o++) {
                    x = step(x, Float.floatToIntBits((float) v[o]));
                }
                h[i] = x;
            }
        }
    }

    /** One step of the row hash: rotate, xor the value's 32 bits, multiply by an odd 64-bit constant. */
    private static long step(long x, int bits) {
        return (Long.rotateLeft(x, 27) ^ (bits & 0xffffffffL)) * 0x9E3779B97F4A7C15L;
    }

    /** MurmurHash3's 64-bit finaliser. */
    private static long mix(long z) {
        z = (z ^ (z >>> 33)) * 0xff51afd7ed558ccdL;
        z = (z ^ (z >>> 33)) * 0xc4ceb93e185a53L;
        return z ^ (z >>> 33);
    }
}
