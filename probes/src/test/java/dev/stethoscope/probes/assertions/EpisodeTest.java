package dev.stethoscope.probes.assertions;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Fires once per episode, escalates once, re-arms after the documented number of absent steps. */
class EpisodeTest {
    /** The detector: the loss of the latest step is its severity (0 none, 1 warning, 2 error). */
    static final Detector BY_LOSS = new Detector() {
        @Override
        public String id() {
            return "by-loss";
        }

        @Override
        public Condition check(SignalWindow w) {
            int sev = (int) w.latest().loss();
            return sev == 0 ? Condition.ABSENT
                    : Condition.steps(Severity.values()[sev], "level " + sev, w.latest().step(), w.latest().step());
        }
    };

    static List<Long> firingSteps(Episode e, int... levels) {
        SignalWindow w = new SignalWindow(4);
        List<Long> fired = new ArrayList<>();
        for (int t = 0; t < levels.length; t++) {
            w.add(StepSignals.builder(t).loss(levels[t]).build());
            Optional<Finding> f = e.evaluate(w);
            if (f.isPresent()) {
                fired.add((long) t);
            }
        }
        return fired;
    }

    @Test
    void firesOncePerEpisodeAndReArmsAfterTheAbsence() {
        Episode e = new Episode(BY_LOSS, 3);
        // present 1-3, absent 4-5 (2 < 3, same episode), present 6, absent 7-9 (re-armed), present 10
        assertThat(firingSteps(e, 0, 1, 1, 1, 0, 0, 1, 0, 0, 0, 1, 1)).containsExactly(1L, 10L);
        assertThat(e.episodes()).isEqualTo(2);
        assertThat(e.active()).isTrue();
    }

    @Test
    void escalationToErrorFiresOnceWithinAnEpisode() {
        Episode e = new Episode(BY_LOSS, 2);
        assertThat(firingSteps(e, 1, 1, 2, 2, 1, 2, 0, 0, 2)).containsExactly(0L, 2L, 8L);
    }

    @Test
    void findingCarriesTheDetectorAndRange() {
        Episode e = new Episode(BY_LOSS);
        SignalWindow w = new SignalWindow(4);
        w.add(StepSignals.builder(17).loss(2).build());
        Finding f = e.evaluate(w).orElseThrow();
        assertThat(f.detector()).isEqualTo("by-loss");
        assertThat(f.severity()).isEqualTo(Severity.ERROR);
        assertThat(f.from()).isEqualTo(17);
        assertThat(f.toString()).contains("ERROR by-loss [step 17..17]");
    }

    @Test
    void invalidArgumentsAreRefused() {
        assertThatThrownBy(() -> new Episode(BY_LOSS, 0)).hasMessageContaining("rearmAfter");
        assertThatThrownBy(() -> new SignalWindow(1)).hasMessageContaining("at least 2");
        assertThatThrownBy(() -> new Finding("x", Severity.NONE, "", WindowUnit.STEP, 0, 0)).hasMessageContaining("NONE");
        assertThatThrownBy(() -> StepSignals.builder(0).gradientNorms(1, 2).parameterNorms(1).build())
                .hasMessageContaining("one entry per parameter layer");
    }

    @Test
    void windowKeepsTheLastStepsAndTheStartLoss() {
        SignalWindow w = new SignalWindow(3);
        for (int t = 0; t < 15; t++) {
            w.add(StepSignals.builder(t).loss(t).build());
        }
        assertThat(w.size()).isEqualTo(3);
        assertThat(w.stepsSeen()).isEqualTo(15);
        assertThat(w.steps()).extracting(StepSignals::step).containsExactly(12L, 13L, 14L);
        assertThat(w.startLoss()).isEqualTo(4.5); // mean of 0..9
    }
}
