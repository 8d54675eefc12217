package dev.stethoscope.sample.bench;

import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.data.MnistFixture;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The reduced assertion bench ({@link AssertionBench#reduced()}: 5 faulty and 3 healthy real MNIST
 * trainings, each network built from its configuration JSON) meets the targets: at least
 * 90 % of the faulty runs flagged, the expected detector among those that fired for at least
 * 80 %, no ERROR on a healthy run.
 */
class AssertionBenchTest {
    @Test
    void reducedSuiteMeetsTheTargets() {
        MnistData mnist = MnistFixture.mnist();
        List<AssertionBench.Case> cases = AssertionBench.reduced();
        assertThat(cases.stream().filter(c -> !c.healthy())).hasSize(5);
        assertThat(cases.stream().filter(AssertionBench.Case::healthy)).hasSize(3);
        List<AssertionBench.Result> results = new ArrayList<>();
        for (AssertionBench.Case c : cases) {
            results.add(AssertionBench.run(c, mnist));
        }
        ByteArrayOutputStream table = new ByteArrayOutputStream();
        AssertionBench.Summary s = AssertionBench.summarize(results, new PrintStream(table, true, StandardCharsets.UTF_8));
        String report = table.toString(StandardCharsets.UTF_8);
        assertThat(s.faulty()).isEqualTo(5);
        assertThat(s.flaggedTarget()).as(report).isTrue();
        assertThat(s.expectedTarget()).as(report).isTrue();
        assertThat(s.healthyErrors()).as(report).isZero();
        // the NaN batch is named at the step it enters, not before
        AssertionBench.Result nan = results.stream().filter(r -> r.c().name().equals("nan-batch")).findFirst().orElseThrow();
        assertThat(nan.fired()).filteredOn(f -> f.detector().equals("non-finite")).first()
                .satisfies(f -> assertThat(f.iteration()).isEqualTo(nan.c().faultStep()));
        assertThat(report).contains("| nan-batch | faulty |").contains("target >= 90 %");
    }
}
