package dev.stethoscope.sample;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;

class BlasRelaunchTest {

    @Test
    void commandRestartsThisJvmWithItsClassPathAndArguments() {
        List<String> cmd = BlasRelaunch.command(new String[]{"train", "--epochs", "3"});
        assertThat(cmd).isNotNull();
        assertThat(Path.of(cmd.get(0)).getFileName().toString()).startsWith("java");
        int cp = cmd.indexOf("-cp");
        assertThat(cp).isPositive();
        assertThat(cmd.get(cp + 1)).isEqualTo(System.getProperty("java.class.path"));
        assertThat(cmd.subList(cmd.size() - 4, cmd.size())).containsExactly(Main.class.getName(), "train", "--epochs", "3");
    }

    @Test
    void helpNeedsNoSelfTest() {
        assertThat(BlasRelaunch.relaunchIfBackendBroken(new String[]{"--help"})).isEqualTo(-1);
        assertThat(BlasRelaunch.relaunchIfBackendBroken(new String[0])).isEqualTo(-1);
    }

    private static boolean avx512() throws IOException {
        Path p = Path.of("/proc/cpuinfo");
        return Files.exists(p) && Files.readString(p).contains("avx512f");
    }

    private record Run(int exit, String output) {
    }

    private static Run selftest(boolean marker) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(ProcessHandle.current().info().command().orElseThrow(), "-Xmx1g",
                "-cp", System.getProperty("java.class.path"), Main.class.getName(), "selftest").redirectErrorStream(true);
        pb.environment().put("OPENBLAS_CORETYPE", "SkylakeX"); // the broken kernels, on an AVX-512 CPU
        if (marker) {
            pb.environment().put(BlasRelaunch.MARKER, "1");
        } else {
            pb.environment().remove(BlasRelaunch.MARKER);
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
        return new Run(p.exitValue(), out);
    }

    /** End to end on an AVX-512 CPU: the broken kernels make the launcher re-execute itself with Haswell's. */
    @Test
    void brokenKernelsAreFixedByReExecutionOnce() throws Exception {
        Assumptions.assumeTrue(avx512(), "needs an AVX-512 CPU to select OpenBLAS's SkylakeX kernels");
        Run fixed = selftest(false);
        assertThat(fixed.output()).contains("Re-executing this command with OPENBLAS_CORETYPE=Haswell (was SkylakeX)")
                .contains("OPENBLAS_CORETYPE=Haswell\n").contains("self-test passed").contains("route: LAPACK");
        assertThat(fixed.exit()).as(fixed.output()).isZero();
        // the marker stops a second re-execution: the child reports the failure and uses EJML
        Run guarded = selftest(true);
        assertThat(guarded.output()).doesNotContain("Re-executing").contains("is WRONG").contains("route: EJML");
        assertThat(guarded.exit()).as(guarded.output()).isEqualTo(2);
    }
}
