package dev.stethoscope.listeners.records;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An exception raised inside a monitor, recorded so the UI can show it; training
 * went on (unless the monitor was set to fail fast).
 */
public class MonitorErrorRecord extends StethoscopeRecord {
    private static final long serialVersionUID = 1L;
    public static final String TYPE_ID = "Stethoscope.Error";
    private static final int MAX_TRACE_CHARS = 8000;

    private String monitor;
    private String phase;
    private String exceptionClass;
    private String message;
    private String stackTrace;
    private int count = 1;

    /** For decoding. */
    public MonitorErrorRecord() {
    }

    public MonitorErrorRecord(String monitor, String phase, Throwable t) {
        this.monitor = monitor;
        this.phase = phase;
        this.exceptionClass = t.getClass().getName();
        this.message = String.valueOf(t.getMessage());
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        String s = sw.toString();
        this.stackTrace = s.length() > MAX_TRACE_CHARS ? s.substring(0, MAX_TRACE_CHARS) + "\n..." : s;
    }

    /**
     * Sets how many times this failure (same monitor, phase and exception class) happened so far,
     * this one included; monitors publish a repeated failure only at counts 1, 2, 4, 8, ...
     */
    public MonitorErrorRecord count(int n) {
        if (n < 1) {
            throw new IllegalArgumentException("count must be >= 1, got " + n);
        }
        this.count = n;
        invalidate();
        return this;
    }

    /** Occurrences of this failure so far, this one included (1 for records written before counts existed). */
    public int getCount() {
        return count;
    }

    @Override
    public String getTypeID() {
        return TYPE_ID;
    }

    @Override
    protected int bodyVersion() {
        return 2;
    }

    @Override
    protected void writeBody(DataOutputStream out) throws IOException {
        RecordCodec.writeString(out, monitor);
        RecordCodec.writeString(out, phase);
        RecordCodec.writeString(out, exceptionClass);
        RecordCodec.writeString(out, message);
        RecordCodec.writeString(out, stackTrace);
        out.writeInt(count);
    }

    @Override
    protected void readBody(DataInputStream in, int version) throws IOException {
        monitor = RecordCodec.readString(in);
        phase = RecordCodec.readString(in);
        exceptionClass = RecordCodec.readString(in);
        message = RecordCodec.readString(in);
        stackTrace = RecordCodec.readString(in);
        count = version >= 2 ? in.readInt() : 1;
        if (count < 1) {
            throw new java.io.IOException("Corrupt error record: count " + count);
        }
    }

    @Override
    protected Map<String, Object> bodyJson() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("monitor", monitor);
        m.put("phase", phase);
        m.put("exceptionClass", exceptionClass);
        m.put("message", message);
        m.put("stackTrace", stackTrace);
        m.put("count", count);
        return m;
    }

    public String getMonitor() {
        return monitor;
    }

    public String getPhase() {
        return phase;
    }

    public String getExceptionClass() {
        return exceptionClass;
    }

    public String getMessage() {
        return message;
    }
}
