package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.data.ExampleIndex;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.api.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class BatchTrackerTest {
    private final Blobs data = new Blobs(25, 4, 3, 1, 3);

    @Test
    void eachBatchHandedOutIsTakenOnceWithItsExampleIds() {
        BatchTracker tracker = new BatchTracker();
        DataSetIterator it = tracker.track(data.iterator(10, true));
        long[][] expected = {{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, {10, 11, 12, 13, 14, 15, 16, 17, 18, 19},
                {20, 21, 22, 23, 24}};
        for (long[] ids : expected) {
            assertThat(tracker.hasBatch()).isFalse();
            DataSet handedOut = it.next();
            assertThat(tracker.hasBatch()).isTrue();
            DataSet taken = tracker.take(ids.length);
            assertThat(taken).isSameAs(handedOut);
            assertThat(ExampleIndex.indicesOf(taken)).containsExactly(ids);
            // used once: a second forward pass without a new batch does not reuse it
            assertThat(tracker.take(ids.length)).isNull();
        }
        assertThat(it.hasNext()).isFalse();
    }

    @Test
    void resetForgetsTheDeclaredBatchAndStartsAgainFromTheFirst() {
        BatchTracker tracker = new BatchTracker();
        DataSetIterator it = tracker.track(data.iterator(10, true));
        it.next();
        it.next(); // declared, never trained (e.g. an epoch ended by a listener)
        it.reset();
        assertThat(tracker.hasBatch()).isFalse();
        assertThat(tracker.take(10)).isNull();
        it.next(7);
        assertThat(ExampleIndex.indicesOf(tracker.take(7))).containsExactly(0, 1, 2, 3, 4, 5, 6);
        // a manual set after the iterator's batch replaces it
        tracker.set(data.batch(3, 5, true));
        assertThat(ExampleIndex.indicesOf(tracker.take(2))).containsExactly(3, 4);
    }

    @Test
    void batchesWithoutIdsAreDeclaredToo_andAForwardPassOfAnotherSizeGetsNone() {
        BatchTracker tracker = new BatchTracker();
        DataSetIterator noIds = tracker.track(data.iterator(10, false));
        DataSet handedOut = noIds.next(); // never throws: the identity hashes such a batch
        assertThat(tracker.take(10)).isSameAs(handedOut);

        tracker.track(data.iterator(10, true)).next();
        assertThat(tracker.take(8)).as("a forward pass of 8 rows is not the declared batch of 10").isNull();
        assertThat(tracker.hasBatch()).isFalse();
    }

    @Test
    void neverAsynchronousOtherwiseAsTheWrappedIterator() {
        DataSetIterator base = data.iterator(10, true);
        assertThat(base.asyncSupported()).isTrue();
        DataSetIterator it = new BatchTracker().track(base);
        assertThat(it.asyncSupported()).isFalse(); // DL4J must not prefetch ahead of the trained batch
        assertThat(it.inputColumns()).isEqualTo(4);
        assertThat(it.totalOutcomes()).isEqualTo(3);
        assertThat(it.batch()).isEqualTo(10);
        assertThat(it.resetSupported()).isTrue();
        assertThatThrownBy(() -> new BatchTracker().track((org.nd4j.linalg.dataset.api.iterator.DataSetIterator) null)).isInstanceOf(NullPointerException.class);
    }
}
