package dev.stethoscope.sample.npy;

import java.io.IOException;
import java.nio.file.Path;

/** Public access to the test-only {@link NpyWriter} for tests in other packages. */
public final class NpyWriterAccess {
    private NpyWriterAccess() {
    }

    public static void write(Path file, double[][] values, String descr, boolean fortran) throws IOException {
        NpyWriter.write(file, values, descr, fortran);
    }
}
