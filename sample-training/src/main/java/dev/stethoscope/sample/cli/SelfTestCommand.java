package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.linalg.BackendSelfTest;
import dev.stethoscope.probes.linalg.Decompositions;
import picocli.CommandLine.Command;

import java.util.Map;
import java.util.concurrent.Callable;

/** {@code selftest}: runs the ND4J double-precision linear-algebra self-test and prints its measurements. */
@Command(name = "selftest", mixinStandardHelpOptions = true,
        description = "Checks ND4J's double-precision linear algebra (gesvd, syev, gemm) on this CPU and prints"
                + " the errors; exit code 0 if it passed, 2 if not.")
public final class SelfTestCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        BackendSelfTest.Result r = BackendSelfTest.result();
        System.out.println("OPENBLAS_CORETYPE=" + (r.coreType() == null ? "<unset>" : r.coreType()));
        for (Map.Entry<String, Double> e : r.errors().entrySet()) {
            System.out.printf(java.util.Locale.ROOT, "%-34s %.3g%n", e.getKey(), e.getValue());
        }
        System.out.println(r.summary());
        System.out.println("decompositions route: " + Decompositions.route());
        return r.passed() ? 0 : 2;
    }
}
