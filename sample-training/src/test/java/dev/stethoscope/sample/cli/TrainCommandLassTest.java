package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.LassParameters;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class TrainCommandLassTest {

    private static TrainCommand parse(String... args) {
        TrainCommand c = new TrainCommand();
        new CommandLine(c).parseArgs(args);
        return c;
    }

    @Test
    void presetsAndRadiusOverride() {
        assertThat(parse().lassParameters()).isEqualTo(LassParameters.defaults());
        assertThat(parse("--lass-preset", "paper").lassParameters()).isEqualTo(LassParameters.PAPER);
        // alpha and beta scale with the radius, the preset's step count stays
        LassParameters p = parse("--lass-preset", "paper", "--lass-radius", "0.012").lassParameters();
        assertThat(p.radius()).isEqualTo(0.012);
        assertThat(p.alpha() / p.radius()).isCloseTo(LassParameters.PAPER.alpha() / LassParameters.PAPER.radius(), within(1e-12));
        assertThat(p.beta() / p.radius()).isCloseTo(LassParameters.PAPER.beta() / LassParameters.PAPER.radius(), within(1e-12));
        assertThat(p.maxIterations()).isEqualTo(100);
        assertThatThrownBy(() -> parse("--lass-preset", "big").lassParameters())
                .hasMessageContaining("default").hasMessageContaining("paper");
    }
}
