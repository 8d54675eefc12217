package dev.stethoscope.sample.data;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class LabelNoiseTest {
    @TempDir
    Path tmp;

    private static int[] randomLabels(int n, int classes, long seed) {
        Random r = new Random(seed);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            out[i] = r.nextInt(classes);
        }
        return out;
    }

    private static List<Integer> changed(int[] before, int[] after) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < before.length; i++) {
            if (before[i] != after[i]) {
                out.add(i);
            }
        }
        return out;
    }

    @Test
    void flipsExactlyRoundPNLabelsEachToADifferentClass() {
        int[] labels = randomLabels(1000, 10, 1);
        int[] copy = labels.clone();
        double[] ps = {0.0, 0.0125, 0.1, 0.0333, 0.5, 1.0};
        for (double p : ps) {
            LabelNoise.Result r = LabelNoise.flip(labels, 10, p, 42);
            long expected = Math.round(p * 1000);
            assertThat(r.flippedCount()).as("p=%s", p).isEqualTo((int) expected);
            // the recorded indices are exactly the changed ones, ascending
            assertThat(r.flippedIndices()).as("p=%s", p)
                    .containsExactly(changed(labels, r.labels()).stream().mapToInt(Integer::intValue).toArray());
            for (int i : r.flippedIndices()) {
                assertThat(r.labels()[i]).isNotEqualTo(labels[i]).isBetween(0, 9);
                assertThat(r.isFlipped(i)).isTrue();
            }
            assertThat(r.originalLabels()).containsExactly(labels);
        }
        assertThat(LabelNoise.flip(labels, 10, 0.0125, 42).flippedCount()).isEqualTo(13); // 12.5 rounds up
        assertThat(labels).as("input is not modified").containsExactly(copy);
    }

    @Test
    void sameSeedSameFlipsDifferentSeedDifferentFlips() {
        int[] labels = randomLabels(5000, 10, 2);
        LabelNoise.Result a = LabelNoise.flip(labels, 10, 0.2, 7);
        LabelNoise.Result b = LabelNoise.flip(labels, 10, 0.2, 7);
        LabelNoise.Result c = LabelNoise.flip(labels, 10, 0.2, 8);
        assertThat(b.flippedIndices()).containsExactly(a.flippedIndices());
        assertThat(b.labels()).containsExactly(a.labels());
        assertThat(c.flippedIndices()).isNotEqualTo(a.flippedIndices());
        assertThat(c.flippedCount()).isEqualTo(a.flippedCount());
    }

    @Test
    void choicesAreUniform() {
        // 100000 labels, half flipped: each example index is chosen about equally often in halves of the data,
        // and from every class the new class is spread evenly over the 9 others
        int n = 100_000;
        int[] labels = randomLabels(n, 10, 3);
        LabelNoise.Result r = LabelNoise.flip(labels, 10, 0.5, 11);
        int firstHalf = 0;
        int[][] transitions = new int[10][10];
        int[] flippedFrom = new int[10];
        for (int i : r.flippedIndices()) {
            if (i < n / 2) {
                firstHalf++;
            }
            transitions[labels[i]][r.labels()[i]]++;
            flippedFrom[labels[i]]++;
        }
        assertThat(firstHalf).isBetween(24_000, 26_000);
        for (int from = 0; from < 10; from++) {
            double expected = flippedFrom[from] / 9.0;
            for (int to = 0; to < 10; to++) {
                if (to == from) {
                    assertThat(transitions[from][to]).isZero();
                } else {
                    assertThat((double) transitions[from][to]).isBetween(0.8 * expected, 1.2 * expected);
                }
            }
        }
    }

    @Test
    void twoClassesAlwaysFlipToTheOther() {
        int[] labels = randomLabels(200, 2, 4);
        LabelNoise.Result r = LabelNoise.flip(labels, 2, 0.3, 5);
        assertThat(r.flippedCount()).isEqualTo(60);
        for (int i : r.flippedIndices()) {
            assertThat(r.labels()[i]).isEqualTo(1 - labels[i]);
        }
    }

    @Test
    void indicesFileHasHeaderAndOneIndexPerLine() throws IOException {
        int[] labels = randomLabels(300, 10, 6);
        LabelNoise.Result r = LabelNoise.flip(labels, 10, 0.1, 99);
        Path file = r.writeIndices(tmp.resolve("run"));
        assertThat(file.getFileName().toString()).isEqualTo(LabelNoise.FILE_NAME);
        List<String> lines = Files.readAllLines(file);
        assertThat(lines.get(0)).startsWith("#").contains("p=0.1").contains("seed=99").contains("n=300")
                .contains("flipped=30");
        List<String> data = lines.stream().filter(l -> !l.startsWith("#")).toList();
        assertThat(data).hasSize(30);
        assertThat(data).allMatch(l -> l.matches("\\d+"));
        assertThat(LabelNoise.readIndices(file)).containsExactly(r.flippedIndices());
    }

    @Test
    void badArgumentsAreRejected() {
        int[] labels = {0, 1, 2};
        assertThatThrownBy(() -> LabelNoise.flip(labels, 3, 1.5, 0)).hasMessageContaining("[0, 1]");
        assertThatThrownBy(() -> LabelNoise.flip(labels, 3, Double.NaN, 0)).hasMessageContaining("[0, 1]");
        assertThatThrownBy(() -> LabelNoise.flip(labels, 1, 0.5, 0)).hasMessageContaining("at least 2 classes");
        assertThatThrownBy(() -> LabelNoise.flip(labels, 2, 0.5, 0)).hasMessageContaining("outside 0..1");
    }
}
