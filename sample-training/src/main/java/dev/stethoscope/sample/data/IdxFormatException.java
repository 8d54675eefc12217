package dev.stethoscope.sample.data;

import java.io.IOException;
import java.nio.file.Path;

/**
 * An IDX file (or a pair of them) that cannot be used: wrong magic number,
 * truncated or oversized content, unsupported data type, or image and label
 * counts that differ. The message always names the file and what is wrong.
 */
public class IdxFormatException extends IOException {
    private static final long serialVersionUID = 1L;

    private final transient Path file;
    private final String problem;

    /**
     * @param file    the offending file
     * @param problem what is wrong with it, as a sentence fragment
     */
    public IdxFormatException(Path file, String problem) {
        super("Bad IDX file " + file + ": " + problem);
        this.file = file;
        this.problem = problem;
    }

    /** The offending file. */
    public Path file() {
        return file;
    }

    /** What is wrong with the file (the message without the file name). */
    public String problem() {
        return problem;
    }
}
