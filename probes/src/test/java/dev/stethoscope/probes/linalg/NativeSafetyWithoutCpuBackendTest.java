package dev.stethoscope.probes.linalg;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The library modules do not bring ND4J's CPU backend (the user picks nd4j-native or a CUDA
 * backend). {@link NativeSafety} must then install nothing and not fail: this loads the probes'
 * classes in a class loader that hides {@code org.nd4j.linalg.cpu.*}, as on a CUDA-only class path.
 */
class NativeSafetyWithoutCpuBackendTest {

    /** Hides the CPU backend's classes and leaves the Stethoscope classes to the child loader. */
    private static final class HidingLoader extends ClassLoader {
        HidingLoader(ClassLoader parent) {
            super(parent);
        }

        @Override
        protected Class<?> loadClass(String name, boolean resolve) throws ClassNotFoundException {
            if (name.startsWith("org.nd4j.linalg.cpu.") || name.startsWith("dev.stethoscope.")) {
                throw new ClassNotFoundException(name + " (hidden by the test)");
            }
            return super.loadClass(name, resolve);
        }
    }

    @Test
    void installReturnsFalseAndDoesNotThrowWithoutTheCpuBackend() throws Exception {
        URL probesClasses = NativeSafety.class.getProtectionDomain().getCodeSource().getLocation();
        try (URLClassLoader isolated = new URLClassLoader(new URL[]{probesClasses},
                new HidingLoader(NativeSafety.class.getClassLoader()))) {
            // the hiding works: the CPU backend's LAPACK cannot be loaded from the isolated loader
            assertThatThrownBy(() -> Class.forName(SafeLapack.class.getName(), false, isolated))
                    .isInstanceOf(NoClassDefFoundError.class);

            Class<?> safety = Class.forName(NativeSafety.class.getName(), true, isolated);
            assertThat(safety.getClassLoader()).isSameAs(isolated);
            Method install = safety.getMethod("install");
            Method isInstalled = safety.getMethod("isInstalled");
            assertThat(install.invoke(null)).isEqualTo(false);
            assertThat(install.invoke(null)).isEqualTo(false);
            assertThat(isInstalled.invoke(null)).isEqualTo(false);
        }
    }

    @Test
    void theCpuBackendIsOnTheTestClassPath() {
        assertThat(NativeSafety.cpuBackendPresent()).isTrue();
    }
}
