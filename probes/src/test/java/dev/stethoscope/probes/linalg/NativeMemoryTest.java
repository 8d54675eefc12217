package dev.stethoscope.probes.linalg;

import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;

/** The collector trigger for the analyses' native garbage. */
class NativeMemoryTest {

    @Test
    void collectsOnlyPastTheGrowthBoundAndFreesNativeGarbage() throws Exception {
        long saved = NativeMemory.growthBytes() >> 20;
        try {
            NativeMemory.growthMegabytes(0);
            assertThat(NativeMemory.collectIfGrown()).as("0 turns it off").isFalse();

            NativeMemory.growthMegabytes(64);
            System.gc();
            // freed blocks left in glibc's arenas (by an earlier test) would be reused without growing RSS
            NativeMemory.trim();
            Thread.sleep(1100); // past the minimum interval
            NativeMemory.collectIfGrown(); // learns the low point
            long before = NativeMemory.collections();
            assertThat(NativeMemory.collectIfGrown()).as("no growth yet").isFalse();
            long base = Pointer.physicalBytes();
            // up to 400 MB of unreachable native arrays, touched so that they are resident (more than the bound
            // needs: under load ND4J's deallocator thread may still be freeing an earlier test's arrays, and glibc
            // hands those blocks out again without RSS growing)
            boolean collected = false;
            for (int i = 0; i < 100 && !collected; i++) {
                Nd4j.create(DataType.FLOAT, 1_000_000).assign(i);
                collected = NativeMemory.collectIfGrown();
            }
            assertThat(collected).as("a collection once RSS grew by more than 64 MB").isTrue();
            assertThat(NativeMemory.collections()).isEqualTo(before + 1);
            // ND4J frees the collected arrays' memory on its own thread: RSS comes back near the start
            long after = Long.MAX_VALUE;
            for (int i = 0; i < 50 && after > base + (48L << 20); i++) {
                Thread.sleep(100);
                after = Pointer.physicalBytes();
            }
            assertThat(after).as("RSS after the collection (base %d MB)", base >> 20).isLessThan(base + (48L << 20));
        } finally {
            NativeMemory.growthMegabytes(saved);
        }
    }

    @Test
    void theWatchCollectsGrowthThatNoStepChecksAndStopsWhenClosed() throws Exception {
        long saved = NativeMemory.growthBytes() >> 20;
        try {
            NativeMemory.growthMegabytes(0);
            try (AutoCloseable off = NativeMemory.watch()) {
                assertThat(NativeMemory.watching()).as("collections off: no thread").isFalse();
            }
            NativeMemory.growthMegabytes(64);
            System.gc();
            Thread.sleep(1100); // past the minimum interval
            long before = NativeMemory.watchCollections();
            long base;
            long peak = 0;
            AutoCloseable a = NativeMemory.watch();
            AutoCloseable b = NativeMemory.watch(); // reference-counted: one thread
            try {
                assertThat(NativeMemory.watching()).isTrue();
                base = Pointer.physicalBytes();
                // about 400 MB of unreachable native arrays made without a single collectIfGrown() call
                for (int i = 0; i < 100; i++) {
                    Nd4j.create(DataType.FLOAT, 1_000_000).assign(i);
                    peak = Math.max(peak, Pointer.physicalBytes());
                    Thread.sleep(30);
                }
            } finally {
                a.close();
                a.close(); // idempotent: does not release b's reference
                assertThat(NativeMemory.watching()).as("b still open").isTrue();
                b.close();
            }
            assertThat(NativeMemory.watchCollections()).as("collections by the watch thread").isGreaterThan(before);
            assertThat(peak - base).as("growth held well below the 400 MB made").isLessThan(300L << 20);
            assertThat(NativeMemory.watching()).isFalse();
        } finally {
            System.gc(); // this test's garbage: freed and handed back, not left for the next test to reuse
            NativeMemory.trim();
            NativeMemory.growthMegabytes(saved);
        }
    }
    @Test
    void theTighterBoundAppliesOnlyWhileAnAnalysisTaskRuns() throws Exception {
        long saved = NativeMemory.growthBytes() >> 20;
        long savedTight = NativeMemory.analysisGrowthBytes() >> 20;
        try {
            NativeMemory.growthMegabytes(4096);
            NativeMemory.analysisGrowthMegabytes(64);
            assertThat(NativeMemory.analysing()).isFalse();
            assertThat(NativeMemory.currentBoundBytes()).isEqualTo(4096L << 20);
            System.gc();
            NativeMemory.trim();
            Thread.sleep(1100); // past the minimum interval
            NativeMemory.collectIfGrown(); // learns the low point
            long before = NativeMemory.collections();
            // about 120 MB of unreachable native arrays outside any analysis: above 64 MB, far below 4096 MB
            for (int i = 0; i < 30; i++) {
                Nd4j.create(DataType.FLOAT, 1_000_000).assign(i);
                assertThat(NativeMemory.collectIfGrown()).as("general bound 4096 MB, no analysis running").isFalse();
            }
            AutoCloseable a = NativeMemory.analysis();
            AutoCloseable b = NativeMemory.analysis();
            try {
                assertThat(NativeMemory.currentBoundBytes()).isEqualTo(64L << 20);
                b.close();
                b.close(); // idempotent: a still holds it
                assertThat(NativeMemory.analysing()).isTrue();
                boolean collected = NativeMemory.collectIfGrown();
                for (int i = 0; i < 100 && !collected; i++) { // see the first test on why up to 400 MB
                    Nd4j.create(DataType.FLOAT, 1_000_000).assign(i);
                    collected = NativeMemory.collectIfGrown();
                }
                assertThat(collected).as("collected past 64 MB while an analysis runs").isTrue();
                assertThat(NativeMemory.collections()).isEqualTo(before + 1);
            } finally {
                a.close();
            }
            assertThat(NativeMemory.analysing()).isFalse();
            assertThat(NativeMemory.currentBoundBytes()).isEqualTo(4096L << 20);
            NativeMemory.analysisGrowthMegabytes(0);
            try (AutoCloseable c = NativeMemory.analysis()) {
                assertThat(NativeMemory.currentBoundBytes()).as("0: the general bound only").isEqualTo(4096L << 20);
            }
        } finally {
            System.gc();
            NativeMemory.trim();
            NativeMemory.growthMegabytes(saved);
            NativeMemory.analysisGrowthMegabytes(savedTight);
        }
    }
}
