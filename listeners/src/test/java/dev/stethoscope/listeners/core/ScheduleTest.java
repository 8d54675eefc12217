package dev.stethoscope.listeners.core;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.ObjectInputStream;
import java.io.ObjectOutputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The one "when" value type: text form, due epochs and iterations of each kind, the last epoch, bad input. */
class ScheduleTest {

    /** The epochs among 1..n at whose end the schedule is due. */
    private static List<Integer> dueEpochs(Schedule s, int n) {
        List<Integer> out = new ArrayList<>();
        for (int e = 1; e <= n; e++) {
            if (s.dueAtEpochEnd(e)) {
                out.add(e);
            }
        }
        return out;
    }

    @ParameterizedTest
    @ValueSource(strings = {"iterations:10", "epochs:1", "epochs:3", "epochs:2+last", "1,2,5,10,20",
            "1,2,5,10+last", "7", "checkpoints", "never", "never+last"})
    void toStringIsTheFormParseReads(String text) {
        Schedule s = Schedule.parse(text);
        assertThat(s.toString()).isEqualTo(text);
        assertThat(Schedule.parse(s.toString())).isEqualTo(s).hasSameHashCodeAs(s);
    }

    @Test
    void parseAcceptsSpacesCaseAndAnyOrderOfTheList() {
        assertThat(Schedule.parse(" Epochs: 2 +LAST ")).isEqualTo(Schedule.epochs(2).andLast());
        assertThat(Schedule.parse("10, 1,5,1")).isEqualTo(Schedule.atEpochs(1, 5, 10));
        assertThat(Schedule.atEpochs(10, 1, 5, 1).listedEpochs()).containsExactly(1, 5, 10);
        assertThat(Schedule.parse("ITERATIONS:4")).isEqualTo(Schedule.iterations(4));
    }

    @Test
    void dueEpochsOfEachKind() {
        assertThat(dueEpochs(Schedule.epochs(1), 4)).containsExactly(1, 2, 3, 4);
        assertThat(dueEpochs(Schedule.epochs(3), 10)).containsExactly(3, 6, 9);
        assertThat(dueEpochs(Schedule.atEpochs(1, 2, 5, 10, 20), 12)).containsExactly(1, 2, 5, 10);
        assertThat(dueEpochs(Schedule.iterations(1), 5)).isEmpty();
        assertThat(dueEpochs(Schedule.onCheckpoints(), 5)).isEmpty();
        assertThat(dueEpochs(Schedule.never(), 5)).isEmpty();
        assertThat(Schedule.epochs(2).isEpochBased()).isTrue();
        assertThat(Schedule.atEpochs(3).isEpochBased()).isTrue();
        assertThat(Schedule.iterations(2).isEpochBased()).isFalse();
    }

    @Test
    void dueIterationsOnlyForIterationSchedules() {
        List<Integer> due = IntStream.range(0, 13).filter(i -> Schedule.iterations(5).dueAtIteration(i)).boxed().toList();
        assertThat(due).containsExactly(0, 5, 10);
        assertThat(IntStream.range(0, 13).filter(i -> Schedule.iterations(1).dueAtIteration(i)).count()).isEqualTo(13);
        for (Schedule s : List.of(Schedule.epochs(1), Schedule.atEpochs(1), Schedule.onCheckpoints(), Schedule.never())) {
            assertThat(IntStream.range(0, 13).anyMatch(s::dueAtIteration)).as(s.toString()).isFalse();
        }
    }

    @Test
    void andLastWithTheRunLengthIsDueAtTheLastEpochItself() {
        Schedule s = Schedule.epochs(3).andLast().totalEpochs(7);
        assertThat(dueEpochs(s, 7)).containsExactly(3, 6, 7);
        assertThat(s.isLastEpoch(7)).isTrue();
        assertThat(s.isLastEpoch(6)).isFalse();
        assertThat(dueEpochs(Schedule.atEpochs(1, 2).andLast().totalEpochs(5), 5)).containsExactly(1, 2, 5);
        assertThat(dueEpochs(Schedule.never().andLast().totalEpochs(4), 4)).containsExactly(4);
        // the last epoch already on the period is due once, not twice (a set, not a count)
        assertThat(dueEpochs(Schedule.epochs(2).andLast().totalEpochs(6), 6)).containsExactly(2, 4, 6);
        assertThat(s.dueAtClose()).isTrue();
        assertThat(s.totalEpochs()).isEqualTo(7);
        assertThat(s.toString()).isEqualTo("epochs:3+last");
    }

    @Test
    void andLastWithoutTheRunLengthIsLeftToClose() {
        Schedule s = Schedule.epochs(3).andLast();
        assertThat(dueEpochs(s, 7)).containsExactly(3, 6);
        assertThat(s.isLastEpoch(7)).isFalse();
        assertThat(s.dueAtClose()).isTrue();
        assertThat(s.includesLast()).isTrue();
        assertThat(s.totalEpochs()).isNull();
        assertThat(Schedule.epochs(3).dueAtClose()).isFalse();
        assertThat(Schedule.epochs(3).totalEpochs(7).isLastEpoch(7)).as("no andLast: the last epoch is not special").isFalse();
        assertThat(dueEpochs(Schedule.epochs(3).totalEpochs(7), 7)).containsExactly(3, 6);
    }

    @Test
    void badInputIsRefusedWithTheAcceptedForms() {
        for (String bad : List.of("", "every 2", "epochs:", "epochs:x", "iterations:two", "1,,2", "weekly")) {
            assertThatThrownBy(() -> Schedule.parse(bad)).as(bad).isInstanceOf(IllegalArgumentException.class)
                    .hasMessageContaining("iterations:N").hasMessageContaining("epochs:K")
                    .hasMessageContaining("checkpoints").hasMessageContaining("never");
        }
        assertThatThrownBy(() -> Schedule.parse("iterations:5+last")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("epoch schedules");
        assertThatThrownBy(() -> Schedule.parse("checkpoints+last")).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Schedule.parse("epochs:0")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining(">= 1");
        assertThatThrownBy(() -> Schedule.parse("0,1")).isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("1-based");
        assertThatThrownBy(() -> Schedule.iterations(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Schedule.epochs(-1)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(Schedule::atEpochs).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("never()");
        assertThatThrownBy(() -> Schedule.iterations(3).andLast()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> Schedule.onCheckpoints().andLast()).isInstanceOf(IllegalStateException.class);
        assertThatThrownBy(() -> Schedule.epochs(1).totalEpochs(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Schedule.parse(null)).isInstanceOf(NullPointerException.class);
    }

    @Test
    void serializableAndImmutable() throws Exception {
        Schedule s = Schedule.atEpochs(1, 2, 5).andLast().totalEpochs(9);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (ObjectOutputStream out = new ObjectOutputStream(bytes)) {
            out.writeObject(s);
        }
        Object back = new ObjectInputStream(new ByteArrayInputStream(bytes.toByteArray())).readObject();
        assertThat(back).isEqualTo(s);
        int[] listed = s.listedEpochs();
        listed[0] = 99;
        assertThat(s.listedEpochs()).containsExactly(1, 2, 5);
        assertThat(Schedule.epochs(2).andLast()).isNotEqualTo(Schedule.epochs(2));
        assertThat(Schedule.epochs(2).totalEpochs(3)).isNotEqualTo(Schedule.epochs(2));
    }
}
