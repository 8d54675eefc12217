package dev.stethoscope.listeners.memorization;

import dev.stethoscope.listeners.TwoInputNets;
import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.LossSensitivitySample;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.probes.memorization.CriticalSamples;
import dev.stethoscope.probes.memorization.CsrResult;
import dev.stethoscope.probes.memorization.InputGradients;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.probes.memorization.LossSensitivity;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * Memorisation signals on a ComputationGraph with two inputs ({@link TwoInputNets}): loss sensitivity over the
 * gradient with respect to both inputs and LASS perturbing both inputs in one box give the numbers of the one-input
 * network that reads the concatenated input.
 */
class MultiInputMemorizationTest {
    private static final DataSet TRAIN = TwoInputNets.digits(1, 200);
    private static final DataSet VAL = TwoInputNets.digits(2, 60);
    private static ComputationGraph graph;

    @BeforeAll
    static void train() {
        graph = TwoInputNets.twoInput(7);
        graph.fit(TwoInputNets.iterator(TRAIN, 50), 3);
    }

    @Test
    void lossSensitivityOverBothInputsEqualsTheOneInputNetwork() {
        ComputationGraph g = (ComputationGraph) InputGradients.analysisCopy(graph).model();
        MultiLayerNetwork one = (MultiLayerNetwork) InputGradients.analysisCopy(TwoInputNets.blockEquivalent(graph)).model();
        INDArray[] halves = TwoInputNets.halves(TRAIN.getFeatures());
        double[] two = LossSensitivity.perExampleL1(g, halves, TRAIN.getLabels());
        double[] ref = LossSensitivity.perExampleL1(one, TRAIN.getFeatures(), TRAIN.getLabels());
        assertThat(two).hasSize(200);
        assertThat(two).containsExactly(ref, within(1e-9));
        assertThat(LossSensitivity.gini(two)).isCloseTo(LossSensitivity.gini(ref), within(1e-12));
        // both inputs contribute: the norm over the top half alone is smaller for some example
        double[] topOnly = InputGradients.perExample(g, halves, TRAIN.getLabels())[0].norm1(1).toDoubleVector();
        boolean less = false;
        for (int i = 0; i < two.length; i++) {
            less |= topOnly[i] < two[i] - 1e-9;
        }
        assertThat(less).isTrue();
        double[][] m2 = LossSensitivity.perClassMatrix(g, halves, TRAIN.getLabels());
        double[][] m1 = LossSensitivity.perClassMatrix(one, TRAIN.getFeatures(), TRAIN.getLabels());
        for (int i = 0; i < m1.length; i++) {
            assertThat(m2[i]).containsExactly(m1[i], within(1e-9));
        }
    }

    @Test
    void criticalSamplesPerturbBothInputsInOneBoxAsTheOneInputNetwork() {
        // Langevin noise drawn for the searched examples only: equal flags also mean equal certification
        for (LassParameters p : List.of(
                LassParameters.defaults().withRadius(0.08).withAlpha(0.01).withBeta(0.004).withMaxIterations(12)
                        .withSeed(5),
                LassParameters.defaults().withRadius(0.08).withAlpha(0.01).withBeta(0.004).withMaxIterations(12)
                        .withSeed(5).withCertification(false))) {
            ComputationGraph g = (ComputationGraph) InputGradients.analysisCopy(graph).model();
            MultiLayerNetwork one = (MultiLayerNetwork) InputGradients.analysisCopy(TwoInputNets.blockEquivalent(graph))
                    .model();
            CsrResult two = CriticalSamples.search(g, TwoInputNets.halves(VAL.getFeatures()), p, 25, true);
            CsrResult ref = CriticalSamples.search(one, VAL.getFeatures(), p, 25, true);
            assertThat(two.critical()).as(p.toString()).containsExactly(ref.critical());
            assertThat(two.iterationsUsed()).as(p.toString()).containsExactly(ref.iterationsUsed());
            assertThat(two.certified()).as(p.toString()).containsExactly(ref.certified());
            assertThat(two.criticalSampleRatio()).isEqualTo(ref.criticalSampleRatio());
            // the perturbed examples (joint: [top | bottom]) are the one-input network's, inside one box around x
            INDArray px = two.perturbed();
            assertThat(px.shape()).containsExactly(60, 64);
            assertThat(px.sub(ref.perturbed()).amaxNumber().doubleValue()).as(p.toString()).isLessThan(1e-9);
            assertThat(px.sub(VAL.getFeatures()).amaxNumber().doubleValue()).isLessThanOrEqualTo(0.08 + 1e-12);
            assertThat(two.numCritical()).as("the search finds critical examples").isGreaterThan(0);
            assertThat(two.numCritical()).as("not every example is critical").isLessThan(60);
            if (p.certify()) {
                assertThat(two.certificationNote()).isNull();
            }
        }
    }

    @Test
    void theListenerOnTheTwoInputGraphPublishesTheOneInputGraphsRecords() {
        LassParameters lass = LassParameters.defaults().withRadius(0.08).withAlpha(0.01).withBeta(0.004)
                .withMaxIterations(10).withSeed(5);
        ComputationGraph two = TwoInputNets.twoInput(7);
        ComputationGraph one = TwoInputNets.subsetEquivalent(two);
        InMemoryStatsStorage s2 = new InMemoryStatsStorage();
        InMemoryStatsStorage s1 = new InMemoryStatsStorage();
        MemorizationListener l2 = MemorizationListener.builder(two, s2).training(TwoInputNets.split(TRAIN))
                .validation(TwoInputNets.split(VAL)).trainingSize(64).validationSize(40).lass(lass)
                .sensitivitySchedule(Schedule.iterations(2)).async(false).attach();
        MemorizationListener l1 = MemorizationListener.builder(one, s1).training(TRAIN).validation(VAL)
                .trainingSize(64).validationSize(40).lass(lass).sensitivitySchedule(Schedule.iterations(2))
                .async(false).attach();
        two.fit(TwoInputNets.iterator(TRAIN, 50), 2);
        one.fit(new ListDataSetIterator<>(TRAIN.asList(), 50), 2);
        l2.close();
        l1.close();
        assertThat(two.params().sub(one.params()).amaxNumber().doubleValue()).as("same training").isLessThan(1e-12);

        List<Memorization> m2 = payloads(s2, l2.sessionId(), Memorization.TYPE_ID, Memorization.class);
        List<Memorization> m1 = payloads(s1, l1.sessionId(), Memorization.TYPE_ID, Memorization.class);
        assertThat(m2).hasSize(2);
        assertThat(m1).hasSize(2);
        for (int e = 0; e < 2; e++) {
            Memorization a = m2.get(e);
            Memorization b = m1.get(e);
            assertThat(a.criticalCount()).isEqualTo(b.criticalCount());
            assertThat(a.csrCertified()).isEqualTo(b.csrCertified());
            assertThat(a.criticalSampleRatio()).isEqualTo(b.criticalSampleRatio());
            assertThat(a.sensitivityGini()).isCloseTo(b.sensitivityGini(), within(1e-9));
            assertThat(a.sensitivityMean()).isCloseTo(b.sensitivityMean(), within(1e-9));
            assertThat(a.valAccuracy()).isEqualTo(b.valAccuracy());
            assertThat(a.trainLoss()).isCloseTo(b.trainLoss(), within(1e-9));
            assertThat(a.perClassSensitivity()).containsExactly(b.perClassSensitivity(), within(1e-9));
        }
        List<LossSensitivitySample> g2 = payloads(s2, l2.sessionId(), LossSensitivitySample.TYPE_ID,
                LossSensitivitySample.class);
        List<LossSensitivitySample> g1 = payloads(s1, l1.sessionId(), LossSensitivitySample.TYPE_ID,
                LossSensitivitySample.class);
        assertThat(g2).hasSameSizeAs(g1).isNotEmpty();
        for (int i = 0; i < g1.size(); i++) {
            assertThat(g2.get(i).mean()).isCloseTo(g1.get(i).mean(), within(1e-9));
        }
    }

    @Test
    void aTwoInputGraphTakesDataForEachInputOrTheJointForm() {
        // the joint form: each example's inputs concatenated (here: the whole image)
        MemorizationListener l = MemorizationListener.builder(graph, new InMemoryStatsStorage()).training(TRAIN)
                .validation(VAL).build();
        assertThat(l.parameters().get("csrExamples")).isEqualTo("60");
        DataSet topOnly = new DataSet(TwoInputNets.halves(TRAIN.getFeatures())[0], TRAIN.getLabels());
        assertThatThrownBy(() -> MemorizationListener.builder(graph, new InMemoryStatsStorage()).training(topOnly)
                .validation(VAL).build())
                .isInstanceOf(IllegalArgumentException.class)
                .hasMessageContaining("takes 2 input array(s) [top, bottom]")
                .hasMessageContaining("training(MultiDataSet)")
                .hasMessageContaining("the joint array has 32");
    }

    private static <P extends Record> List<P> payloads(InMemoryStatsStorage s, String session, String type,
                                                       Class<P> cls) {
        List<Persistable> all = s.getAllUpdatesAfter(session, type, 0);
        return all.stream().map(p -> ((StethoscopeRecord) p).payload(cls)).toList();
    }
}
