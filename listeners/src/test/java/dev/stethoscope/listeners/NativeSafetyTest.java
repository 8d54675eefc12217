package dev.stethoscope.listeners;

import dev.stethoscope.listeners.core.StethoscopeListener;
import dev.stethoscope.probes.linalg.SafeLapack;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Loading the listeners makes ND4J use {@link SafeLapack} and SafeOpExecutioner: the monitors'
 * analyses run outside workspaces while the training thread allocates, and ND4J's own CpuLapack
 * and op executioner let a garbage collection free buffers still in use (docs/reliability.md).
 */
class NativeSafetyTest {
    @Test
    void listenerClassInitialisationInstallsSafeLapackAndSafeOpExecutioner() throws Exception {
        Class.forName(StethoscopeListener.class.getName(), true, StethoscopeListener.class.getClassLoader());
        assertThat(Nd4j.getBlasWrapper().lapack()).isInstanceOf(SafeLapack.class);
        assertThat(SafeLapack.isInstalled()).isTrue();
        assertThat(Nd4j.getExecutioner()).isInstanceOf(dev.stethoscope.probes.linalg.SafeOpExecutioner.class);
        assertThat(dev.stethoscope.probes.linalg.NativeSafety.isInstalled()).isTrue();
    }
}
