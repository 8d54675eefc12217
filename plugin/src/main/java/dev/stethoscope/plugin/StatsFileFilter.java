package dev.stethoscope.plugin;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ObjectInputFilter;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A JEP 290 deserialization filter for reading stats files ({@code stats.dl4j}).
 *
 * <p>A stats file is a MapDB file in which DL4J's {@code FileStatsStorage} keeps records
 * ({@code Persistable}s). Stethoscope's own records use their own binary codec, but DL4J's
 * StatsListener records decode parts of their content with Java deserialization, and Java
 * deserialization of a crafted file can run code ("gadget chains"). Installed, this filter lets
 * an {@link java.io.ObjectInputStream} build only the classes a stats file written by DL4J's
 * StatsListener and Stethoscope needs ({@link #ALLOWED}, found by reading real run files with a
 * recording filter) and bounds depth, references, array lengths and stream size; anything else is
 * refused with an {@link java.io.InvalidClassException} and a log line naming the class. (A DL4J
 * StatsListener configured to collect data-set metadata stores the user's metadata objects: such
 * records are refused too.)
 *
 * <p>The filter is JVM-wide ({@link ObjectInputFilter.Config#setSerialFilter}) because the
 * streams are created inside DL4J and MapDB; the command line installs it at start-up. In library
 * use, call {@link #install()} before opening stats files you did not write yourself, or set the
 * equivalent {@code -Djdk.serialFilter} pattern ({@link #PATTERN}). Even so: open trusted runs
 * only.
 */
public final class StatsFileFilter implements ObjectInputFilter {
    private static final Logger log = LoggerFactory.getLogger(StatsFileFilter.class);

    /**
     * Classes a stats file may make an {@link java.io.ObjectInputStream} build. Reading every record
     * of runs written by the train command (DL4J's StatsListener and every Stethoscope monitor)
     * with a recording filter showed exactly two: the storage keys of DL4J's MapDB storage, which
     * its key serializers write with Java serialization (the records themselves use binary codecs:
     * SBE for DL4J's, {@code RecordCodec} for Stethoscope's). Strings and primitives are always
     * allowed; boxed numbers are allowed for the keys' fields in other DL4J versions.
     */
    public static final Set<String> ALLOWED = Set.of(
            "org.deeplearning4j.ui.model.storage.BaseCollectionStatsStorage$SessionTypeId",
            "org.deeplearning4j.ui.model.storage.BaseCollectionStatsStorage$SessionTypeWorkerId",
            "java.lang.String", "java.lang.Number", "java.lang.Integer", "java.lang.Long");

    /** The same rules as a {@code jdk.serialFilter} pattern. */
    public static final String PATTERN = "maxdepth=20;maxrefs=1000000;maxarray=50000000;maxbytes=268435456;"
            + "org.deeplearning4j.ui.model.storage.BaseCollectionStatsStorage$SessionTypeId;"
            + "org.deeplearning4j.ui.model.storage.BaseCollectionStatsStorage$SessionTypeWorkerId;"
            + "java.lang.String;java.lang.Number;java.lang.Integer;java.lang.Long;!*";

    static final long MAX_DEPTH = 20;
    static final long MAX_REFS = 1_000_000;
    static final long MAX_ARRAY = 50_000_000;
    static final long MAX_BYTES = 256L << 20;

    private static final StatsFileFilter INSTANCE = new StatsFileFilter();
    private static volatile boolean enabled;
    private static boolean installed;
    private static final Set<String> rejected = ConcurrentHashMap.newKeySet();

    private StatsFileFilter() {
    }

    /** The filter (without installing it), e.g. for {@code ObjectInputStream.setObjectInputFilter}. */
    public static ObjectInputFilter filter() {
        return INSTANCE;
    }

    /**
     * Installs the filter JVM-wide (once; later calls only re-enable it).
     *
     * @return false if another JVM-wide filter was already set (for example with
     * {@code -Djdk.serialFilter}); that one then stays in force and a warning is logged
     */
    public static synchronized boolean install() {
        if (installed) {
            enabled = true;
            return true;
        }
        ObjectInputFilter gated = info -> enabled ? INSTANCE.checkInput(info) : Status.UNDECIDED;
        try {
            ObjectInputFilter.Config.setSerialFilter(gated);
        } catch (IllegalStateException e) {
            log.warn("A JVM-wide deserialization filter is already set ({}); Stethoscope's stats-file filter is not "
                    + "installed. Open trusted runs only.", ObjectInputFilter.Config.getSerialFilter());
            return false;
        }
        installed = true;
        enabled = true;
        return true;
    }

    /** Switches the installed filter off (true) or on again (false): for tests that need other classes. */
    public static void suspend(boolean suspended) {
        enabled = !suspended && installed;
    }

    /** Whether the filter is installed and enabled. */
    public static boolean active() {
        return installed && enabled;
    }

    /** Names of the classes refused so far (for messages). */
    public static Set<String> rejectedClasses() {
        return Set.copyOf(rejected);
    }

    /** Whether {@code className} may be deserialised from a stats file. */
    public static boolean allowed(String className) {
        return ALLOWED.contains(className);
    }

    @Override
    public Status checkInput(FilterInfo info) {
        if (info.depth() > MAX_DEPTH || info.references() > MAX_REFS || info.streamBytes() > MAX_BYTES
                || (info.arrayLength() >= 0 && info.arrayLength() > MAX_ARRAY)) {
            log.warn("Refused to deserialise from a stats file: limits exceeded (depth {}, references {}, bytes {}, "
                    + "array length {}). Open trusted runs only.", info.depth(), info.references(), info.streamBytes(),
                    info.arrayLength());
            return Status.REJECTED;
        }
        Class<?> c = info.serialClass();
        if (c == null) {
            return Status.UNDECIDED;
        }
        while (c.isArray()) {
            c = c.getComponentType();
        }
        if (c.isPrimitive() || allowed(c.getName())) {
            return Status.ALLOWED;
        }
        if (rejected.add(c.getName())) {
            log.warn("Refused to deserialise class {} from a stats file: a run written by DL4J and Stethoscope never "
                    + "holds it (the file is damaged or crafted). Open trusted runs only.", c.getName());
        }
        return Status.REJECTED;
    }
}
