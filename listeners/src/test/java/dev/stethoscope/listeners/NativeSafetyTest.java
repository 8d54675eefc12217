package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.probes.linalg.SafeLapack;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Loading the listeners makes ND4J use {@link SafeLapack}: the monitors' SVDs and eigen
 * decompositions run while the training thread allocates, and ND4J's own CpuLapack lets a
 * garbage collection free buffers LAPACK is still writing (docs/reliability.md).
 */
class NativeSafetyTest {
    @Test
    void listenerClassInitialisationInstallsSafeLapack() throws Exception {
        Class.forName(StethoscopeListener.class.getName(), true, StethoscopeListener.class.getClassLoader());
        assertThat(Nd4j.getBlasWrapper().lapack()).isInstanceOf(SafeLapack.class);
        assertThat(SafeLapack.isInstalled()).isTrue();
    }
}
