package dev.stethoscope.listeners.dynamics;

import dev.stethoscope.listeners.TwoInputNets;
import dev.stethoscope.listeners.data.ExampleIdentity;
import dev.stethoscope.listeners.records.SuspectTable;
import dev.stethoscope.listeners.records.Suspects;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.dataset.DataSet;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Suspects on a ComputationGraph with two inputs ({@link TwoInputNets}), attached with {@code addListeners} alone:
 * logits from the training forward pass, examples identified by a content hash over both inputs, the raw example
 * kept as the concatenation of its inputs. The scores equal those of the one-input graph (SubsetVertex form, same
 * weights) trained on the same batches, and a planted mislabel ranks first.
 */
class MultiInputSuspectsTest {
    private static final int PLANTED = 13;

    @Test
    void sameScoresAsTheOneInputGraphAndThePlantedMislabelFirst() {
        DataSet train = TwoInputNets.digits(1, 200);
        int given = (PLANTED % 10 + 5) % 10;
        train.getLabels().getRow(PLANTED).assign(0);
        train.getLabels().putScalar(PLANTED, given, 1);

        ComputationGraph two = TwoInputNets.twoInput(7);
        ComputationGraph one = TwoInputNets.subsetEquivalent(two);
        TrainingDynamicsListener l2 = TrainingDynamicsListener.builder(two, new InMemoryStatsStorage())
                .numExamples(200).topK(5).featureShape(1, 8, 8).attach();
        TrainingDynamicsListener l1 = TrainingDynamicsListener.builder(one, new InMemoryStatsStorage())
                .numExamples(200).topK(5).featureShape(1, 8, 8).attach();
        two.fit(TwoInputNets.iterator(train, 50), 4);
        one.fit(new ListDataSetIterator<>(train.asList(), 50), 4);
        l2.close();
        l1.close();
        assertThat(two.params().sub(one.params()).amaxNumber().doubleValue()).as("same training").isLessThan(1e-12);

        assertThat(l2.identitySource()).isEqualTo(ExampleIdentity.Source.CONTENT_HASH);
        assertThat(l2.identityLost()).isNull();
        SuspectTable t2 = l2.table();
        SuspectTable t1 = l1.table();
        assertThat(t2.given()).containsExactly(t1.given());
        assertThat(t2.predicted()).containsExactly(t1.predicted());
        assertThat(t2.count()).containsExactly(t1.count());
        assertThat(java.util.Arrays.stream(t2.count()).allMatch(c -> c == 4)).as("every example seen once per epoch").isTrue();
        assertThat(t2.forgetting()).containsExactly(t1.forgetting());
        for (int i = 0; i < 200; i++) {
            assertThat(t2.aum()[i]).as("AUM of example " + i).isCloseTo(t1.aum()[i],
                    org.assertj.core.api.Assertions.within(1e-5f));
            assertThat(t2.combined()[i]).as("combined score of example " + i).isCloseTo(t1.combined()[i],
                    org.assertj.core.api.Assertions.within(1e-5f));
        }
        assertThat(t2.given()[PLANTED]).isEqualTo(given);

        Suspects r2 = l2.lastRecord();
        Suspects r1 = l1.lastRecord();
        assertThat(r2.suspects().get(0).index()).as("the planted mislabel ranks first").isEqualTo(PLANTED);
        assertThat(r1.suspects().get(0).index()).isEqualTo(PLANTED);
        assertThat(r2.suspects().stream().map(Suspects.Suspect::index).toList())
                .isEqualTo(r1.suspects().stream().map(Suspects.Suspect::index).toList());
        // the raw example: both halves, i.e. the whole digit as the one-input graph saw it
        assertThat(r2.featureShape()).containsExactly(1, 8, 8);
        assertThat(r2.suspects().get(0).pixels()).hasSize(64).containsExactly(r1.suspects().get(0).pixels());
    }

    @Test
    void aTrackedIteratorsExampleIndicesAreUsed() {
        DataSet train = TwoInputNets.digits(1, 200);
        int given = (PLANTED % 10 + 5) % 10;
        train.getLabels().getRow(PLANTED).assign(0);
        train.getLabels().putScalar(PLANTED, given, 1);
        // stable indices in reverse order: not the order of first appearance a content hash would give
        java.util.List<org.datavec.api.records.metadata.RecordMetaDataIndex> meta = new java.util.ArrayList<>();
        for (int i = 0; i < 200; i++) {
            meta.add(new org.datavec.api.records.metadata.RecordMetaDataIndex(199 - i, null, null));
        }
        train.setExampleMetaData(meta);
        ComputationGraph two = TwoInputNets.twoInput(7);
        TrainingDynamicsListener l = TrainingDynamicsListener.builder(two, new InMemoryStatsStorage())
                .numExamples(200).topK(5).featureShape(1, 8, 8).attach();
        two.fit(l.trackMulti(TwoInputNets.iterator(train, 50)), 4);
        l.close();
        assertThat(l.identitySource()).isEqualTo(ExampleIdentity.Source.TRACKED_INDEX);
        assertThat(l.lastRecord().suspects().get(0).index()).isEqualTo(199 - PLANTED);
        assertThat(l.table().given()[199 - PLANTED]).isEqualTo(given);
    }
}
