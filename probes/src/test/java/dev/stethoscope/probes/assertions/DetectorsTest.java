package dev.stethoscope.probes.assertions;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.UnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/** Every detector fires on a minimal constructed fault and is silent on a healthy window. */
class DetectorsTest {

    /** Runs the default suite over a run with the fault injected from step {@code from}; returns every finding. */
    static List<Finding> suite(int steps, long from, UnaryOperator<StepSignals.Builder> fault) {
        DetectorSuite suite = DetectorSuite.defaults();
        Random r = new Random(7);
        List<Finding> out = new ArrayList<>();
        for (long t = 0; t < steps; t++) {
            StepSignals.Builder b = Windows.healthy(t, r);
            out.addAll(suite.onStep((t >= from ? fault.apply(b) : b).build()));
        }
        return out;
    }

    static Condition check(Detector d, int steps, long from, UnaryOperator<StepSignals.Builder> fault) {
        return d.check(Windows.run(steps, from, fault));
    }

    @Test
    void healthyRunIsSilentForEveryDetector() {
        assertThat(suite(400, Long.MAX_VALUE, b -> b)).isEmpty();
        SignalWindow w = Windows.run(400, Long.MAX_VALUE, b -> b);
        for (Detector d : DetectorSuite.defaultDetectors()) {
            assertThat(d.check(w).present()).as(d.id()).isFalse();
        }
    }

    @Test
    void nonFinite() {
        Detector d = new NonFiniteDetector();
        assertThat(check(d, 30, 29, b -> b.loss(Double.NaN)).severity()).isEqualTo(Severity.ERROR);
        Condition g = check(d, 30, 29, b -> b.gradientNorms(1, Double.POSITIVE_INFINITY, 1));
        assertThat(g.severity()).isEqualTo(Severity.ERROR);
        assertThat(g.message()).contains("gradients of dense1");
        assertThat(check(d, 30, 29, b -> b.parameterNorms(Double.NaN, 1, 1)).message()).contains("parameters of dense0");
        assertThat(check(d, 30, 29, b -> b.nonFiniteActivations(3)).message()).contains("activations (3 values)");
        assertThat(check(d, 30, 29, b -> b.loss(Double.NaN)).from()).isEqualTo(29);
        // the fault in an earlier step only: the latest step is healthy, the detector is not
        assertThat(check(d, 30, Long.MAX_VALUE, b -> b).present()).isFalse();
    }

    @Test
    void exploding() {
        Detector d = new ExplodingGradientDetector();
        assertThat(check(d, 30, 29, b -> b.loss(2e5)).severity()).isEqualTo(Severity.ERROR);
        // ratio 100 > 70 for 5 steps while loss still falls: warning
        assertThat(check(d, 30, 25, b -> b.gradientNorms(100, 3, 1)).severity()).isEqualTo(Severity.WARNING);
        // only 4 steps: not yet
        assertThat(check(d, 30, 26, b -> b.gradientNorms(100, 3, 1)).present()).isFalse();
        // ratio 60 < 70: silent
        assertThat(check(d, 30, 0, b -> b.gradientNorms(60, 3, 1)).present()).isFalse();
        // ratio above and loss not falling: error
        assertThat(check(d, 60, 0, b -> b.gradientNorms(100, 3, 1).loss(2.3)).severity()).isEqualTo(Severity.ERROR);
    }

    @Test
    void explodingStepAndRmsRules() {
        Detector d = new ExplodingGradientDetector();
        // one update of 0.5 of the layer's parameters' norm (lr 10 measured 1.0 in bench-assertions): error at once
        Condition c = check(d, 30, 29, b -> b.updateNorms(5, 8e-3 * 8, 3e-3 * 5));
        assertThat(c.severity()).isEqualTo(Severity.ERROR);
        assertThat(c.from()).isEqualTo(29);
        assertThat(c.message()).contains("dense0").contains("learning rate");
        // 0.2 of the norm: below the 0.3 limit
        assertThat(check(d, 30, 29, b -> b.updateNorms(2, 8e-3 * 8, 3e-3 * 5)).present()).isFalse();
        // a layer whose parameters are all zero has no ratio: silent
        assertThat(check(d, 30, 29, b -> b.parameterNorms(0, 8, 5).updateNorms(1e-3, 8e-3, 3e-3)).present()).isFalse();
        // RMS gradient 100 over 100 parameters' norm 1000: warning at once; with the counts unknown, abstains
        assertThat(check(d, 30, 29, b -> b.gradientNorms(1000, 1, 1).parameterCounts(100, 100, 100)).severity())
                .isEqualTo(Severity.WARNING);
        assertThat(check(d, 30, 29, b -> b.gradientNorms(400, 1, 1).parameterCounts(100, 100, 100)).present()).isFalse();
        // the fault only in an earlier step: the latest step is healthy, so is the detector
        assertThat(check(d, 30, 28, b -> b).present()).isFalse();
        // AUTOTRAINER's rules alone (the 3-argument constructor) do not have them
        assertThat(new ExplodingGradientDetector(70, 1e5, 5).check(Windows.run(30, 29, b -> b.updateNorms(5, 1, 1))).present()).isFalse();
    }

    @Test
    void vanishing() {
        Detector d = new VanishingGradientDetector();
        Condition c = check(d, 30, 20, b -> b.gradientNorms(5e-5, 1e-2, 1));
        assertThat(c.severity()).isEqualTo(Severity.WARNING);
        assertThat(c.from()).isEqualTo(25);
        assertThat(c.to()).isEqualTo(29);
        // ratio small but first norm above 1e-4: silent (both conditions required)
        assertThat(check(d, 30, 0, b -> b.gradientNorms(5e-4, 1e-2, 1)).present()).isFalse();
        // a wide first layer: L2 norm 6e-4 over 544 parameters is an RMS of 2.6e-5 (measured on an 8-layer sigmoid MLP)
        assertThat(check(d, 30, 20, b -> b.gradientNorms(6e-4, 1, 25)).present()).isFalse();
        assertThat(check(d, 30, 20, b -> b.gradientNorms(6e-4, 1, 25).parameterCounts(544, 1056, 132)).present()).isTrue();
        // first norm tiny but so is the last: ratio 0.5, silent
        assertThat(check(d, 30, 0, b -> b.gradientNorms(5e-5, 1e-4, 1e-4)).present()).isFalse();
    }

    @Test
    void dyingRelu() {
        Detector d = new DyingReluDetector();
        Condition warn = check(d, 40, 20, b -> b.zeroFractions(0.5, 0.8, Double.NaN));
        assertThat(warn.severity()).isEqualTo(Severity.WARNING);
        assertThat(warn.message()).startsWith("Layer 1 (rectified)");
        // a graph's layers by vertex name
        assertThat(check(d, 40, 20, b -> b.zeroFractions(0.5, 0.8, Double.NaN).activationLayers("conv", "dense", "out"))
                .message()).startsWith("Layer dense (rectified)");
        assertThat(check(d, 40, 20, b -> b.zeroFractions(1.0, 0.5, Double.NaN)).severity()).isEqualTo(Severity.ERROR);
        // 0.65 < 0.7: silent
        assertThat(check(d, 40, 0, b -> b.zeroFractions(0.65, 0.65, Double.NaN)).present()).isFalse();
        // one healthy step among the last 10 breaks the run
        assertThat(check(d, 40, 31, b -> b.zeroFractions(0.9, 0.5, Double.NaN)).present()).isFalse();
    }

    @Test
    void saturation() {
        Detector d = new SaturationDetector();
        Condition warn = check(d, 40, 20, b -> b.saturatedFractions(0.6, Double.NaN, Double.NaN));
        assertThat(warn.severity()).isEqualTo(Severity.WARNING);
        assertThat(warn.message()).startsWith("Layer 0 (sigmoid/tanh)");
        assertThat(check(d, 40, 20, b -> b.saturatedFractions(0.6, Double.NaN, Double.NaN).activationLayers("a", "b", "c"))
                .message()).startsWith("Layer a (sigmoid/tanh)");
        assertThat(check(d, 40, 0, b -> b.saturatedFractions(0.5, 0.4, Double.NaN)).present()).isFalse();
    }

    @Test
    void oscillating() {
        Detector d = new OscillatingLossDetector();
        // loss alternates 1.5 / 3.0 around a start near 2.3: oscillation without progress
        Condition c = check(d, 120, 60, b -> {
            StepSignals s = b.build();
            return b.loss(s.step() % 2 == 0 ? 1.5 : 3.0);
        });
        assertThat(c.severity()).isEqualTo(Severity.WARNING);
        // same relative jumps at a loss far below the start (a converged noisy minibatch loss): silent
        assertThat(check(d, 120, 60, b -> b.loss(b.build().step() % 2 == 0 ? 0.05 : 0.1)).present()).isFalse();
    }

    @Test
    void noProgress() {
        Detector d = new SlowProgressDetector();
        Condition c = check(d, 150, 0, b -> b.loss(2.3 + 0.01 * Math.sin(b.build().step())));
        assertThat(c.severity()).isEqualTo(Severity.WARNING);
        assertThat(c.unit()).isEqualTo(WindowUnit.STEP);
        // before 100 steps: not yet
        assertThat(check(d, 99, 0, b -> b.loss(2.3)).present()).isFalse();
        // epoch rule: three epochs each less than 1 % better
        SignalWindow w = Windows.run(20, Long.MAX_VALUE, b -> b);
        double start = w.startLoss();
        for (int e = 0; e < 3; e++) {
            w.addEpoch(EpochSignals.ofTrainLoss(e, start * (1 - 0.005 * (e + 1))));
        }
        Condition epochs = d.check(w);
        assertThat(epochs.unit()).isEqualTo(WindowUnit.EPOCH);
        assertThat(epochs.severity()).isEqualTo(Severity.WARNING);
        // a first epoch that halves the loss is progress
        SignalWindow ok = Windows.run(20, Long.MAX_VALUE, b -> b);
        ok.addEpoch(EpochSignals.ofTrainLoss(0, ok.startLoss() / 2));
        ok.addEpoch(EpochSignals.ofTrainLoss(1, ok.startLoss() / 2));
        ok.addEpoch(EpochSignals.ofTrainLoss(2, ok.startLoss() / 2));
        assertThat(d.check(ok).present()).isFalse();
        // a run gone NaN is the non-finite detector's (measured: learning rate 3 fired this rule with NaN epoch losses)
        SignalWindow nan = Windows.run(20, Long.MAX_VALUE, b -> b);
        for (int e = 0; e < 3; e++) {
            nan.addEpoch(EpochSignals.ofTrainLoss(e, e == 0 ? nan.startLoss() * 1.2 : Double.NaN));
        }
        assertThat(d.check(nan).present()).isFalse();
        // 30 % of 20 planned epochs = 6 epochs before the epoch rule applies
        w.plannedEpochs(20);
        assertThat(d.check(w).present()).isFalse();
    }

    @Test
    void updateRatio() {
        Detector d = new UpdateRatioDetector();
        Condition small = check(d, 40, 20, b -> b.updateNorms(1e-7, 8e-3, 5e-3)); // log10(1e-7/10) = -8
        assertThat(small.severity()).isEqualTo(Severity.WARNING);
        assertThat(small.message()).contains("dense0").contains("barely move");
        assertThat(check(d, 40, 20, b -> b.updateNorms(1e-2, 8, 5e-3)).message()).contains("dense1").contains("large");
        assertThat(check(d, 40, 20, b -> b.updateNorms(20, 8e-3, 5e-3)).severity()).isEqualTo(Severity.ERROR);
        assertThat(check(d, 40, 20, b -> b.updateNorms(0, 8e-3, 5e-3)).message()).contains("do not change");
        assertThat(check(d, 40, 21, b -> b.updateNorms(1e-7, 8e-3, 5e-3)).present()).isFalse(); // 19 steps only
    }

    @Test
    void validationDivergence() {
        Detector d = new ValidationDivergenceDetector();
        assertThat(d.epochLevel()).isTrue();
        SignalWindow w = new SignalWindow(10);
        double[] train = {1.0, 0.8, 0.6, 0.5, 0.4};
        double[] val = {1.1, 0.9, 0.95, 1.0, 1.1};
        for (int e = 0; e < 4; e++) {
            w.addEpoch(new EpochSignals(e, train[e], val[e], Double.NaN));
        }
        assertThat(d.check(w).present()).isFalse(); // rose for 2 epochs only
        w.addEpoch(new EpochSignals(4, train[4], val[4], Double.NaN));
        Condition c = d.check(w);
        assertThat(c.severity()).isEqualTo(Severity.WARNING);
        assertThat(c.unit()).isEqualTo(WindowUnit.EPOCH);
        assertThat(c.from()).isEqualTo(1);
        assertThat(c.to()).isEqualTo(4);
        // a negligible drift of a converged validation loss (measured: 0.00148 -> 0.00149): silent
        SignalWindow drift = new SignalWindow(10);
        drift.addEpoch(new EpochSignals(0, 1.0, 1.0, Double.NaN));
        double[] v = {0.00148, 0.001483, 0.001486, 0.00149};
        for (int e = 0; e < 4; e++) {
            drift.addEpoch(new EpochSignals(e + 1, 1e-4 - e * 1e-6, v[e], Double.NaN));
        }
        assertThat(d.check(drift).present()).isFalse();
        // both rising (divergence, not memorisation): silent
        SignalWindow both = new SignalWindow(10);
        for (int e = 0; e < 5; e++) {
            both.addEpoch(new EpochSignals(e, 1 + e, 1 + e, Double.NaN));
        }
        assertThat(d.check(both).present()).isFalse();
    }

    @Test
    void predictionCollapse() {
        Detector d = new PredictionCollapseDetector();
        int[] ones = new int[32];
        int[] mostly = new int[32];
        mostly[0] = 4;
        mostly[1] = 5;
        assertThat(check(d, 80, 60, b -> b.predictedClasses(ones)).severity()).isEqualTo(Severity.ERROR);
        assertThat(check(d, 80, 60, b -> b.predictedClasses(mostly)).severity()).isEqualTo(Severity.WARNING); // 30/32 = 0.94
        // during warm-up: silent
        assertThat(check(d, 40, 0, b -> b.predictedClasses(ones)).present()).isFalse();
        // NaN outputs arg-max to class 0: the non-finite detector's, not a collapse
        assertThat(check(d, 80, 60, b -> b.predictedClasses(ones).nonFiniteActivations(5)).present()).isFalse();
        assertThat(check(d, 80, 60, b -> b.predictedClasses(ones).loss(Double.NaN)).present()).isFalse();
        // labels are one class too: not a collapse of the model
        assertThat(check(d, 80, 60, b -> b.predictedClasses(ones).labelClasses(ones)).present()).isFalse();
    }

    @Test
    void singleClassLabels() {
        Detector d = new SingleClassLabelsDetector();
        int[] ones = new int[32];
        assertThat(check(d, 40, 20, b -> b.labelClasses(ones)).severity()).isEqualTo(Severity.WARNING);
        assertThat(check(d, 40, 21, b -> b.labelClasses(ones)).present()).isFalse();
    }

    @Test
    void suiteSurvivesJavaSerialisationMidRun() throws Exception {
        // a listener holding the suite is shipped to Spark workers by Java serialisation
        DetectorSuite a = DetectorSuite.defaults();
        Random r = new Random(7);
        List<StepSignals> steps = new ArrayList<>();
        for (long t = 0; t < 300; t++) {
            StepSignals.Builder b = Windows.healthy(t, r);
            steps.add((t >= 150 ? b.zeroFractions(0.99, 0.5, Double.NaN) : b).build());
        }
        for (int t = 0; t < 155; t++) {
            a.onStep(steps.get(t)); // the dying-ReLU episode has started, not fired yet (10 steps needed)
        }
        java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream();
        try (java.io.ObjectOutputStream out = new java.io.ObjectOutputStream(bytes)) {
            out.writeObject(a);
        }
        DetectorSuite b;
        try (java.io.ObjectInputStream in = new java.io.ObjectInputStream(new java.io.ByteArrayInputStream(bytes.toByteArray()))) {
            b = (DetectorSuite) in.readObject();
        }
        List<Finding> fa = new ArrayList<>();
        List<Finding> fb = new ArrayList<>();
        for (int t = 155; t < 300; t++) {
            fa.addAll(a.onStep(steps.get(t)));
            fb.addAll(b.onStep(steps.get(t)));
        }
        assertThat(fb).isEqualTo(fa);
        assertThat(fa).extracting(Finding::detector).containsExactly(DyingReluDetector.ID);
        assertThat(b.window().stepsSeen()).isEqualTo(300);
    }

    @Test
    void messagesSayWhetherEveryStepOrOnlySampledStepsWereSeen() {
        // every step sampled: "for 10 steps (a..b)"
        Condition every = new DyingReluDetector().check(Windows.run(60, 20, b -> b.zeroFractions(0.99, 0.5, Double.NaN)));
        assertThat(every.message()).contains("for 10 steps (50..59)");
        // layer signals every 10th step, the loss only in between: the message names the samples, not 10 steps
        Random r = new Random(7);
        SignalWindow w = new SignalWindow(DetectorSuite.DEFAULT_CAPACITY);
        w.samplePeriod(10);
        for (long t = 0; t < 200; t++) {
            StepSignals.Builder b = t % 10 == 0 ? Windows.healthy(t, r) : StepSignals.builder(t).epoch((int) (t / 50)).loss(1.0);
            w.add((t >= 100 && t % 10 == 0 ? b.zeroFractions(0.99, 0.5, Double.NaN) : b).build());
        }
        Condition sampled = new DyingReluDetector().check(w);
        assertThat(sampled.present()).isTrue();
        assertThat(sampled.message()).contains("at each of the 3 sampled steps over iterations 170..190")
                .doesNotContain("for 10 steps");
    }

    @Test
    void suiteNamesTheInjectedFault() {
        List<Finding> f = suite(300, 150, b -> b.zeroFractions(0.99, 0.5, Double.NaN));
        assertThat(f).extracting(Finding::detector).containsExactly(DyingReluDetector.ID);
        assertThat(f.get(0).from()).isEqualTo(150);
        List<Finding> nan = suite(300, 150, b -> b.loss(Double.NaN).parameterNorms(Double.NaN, Double.NaN, Double.NaN));
        assertThat(nan).extracting(Finding::detector).contains(NonFiniteDetector.ID);
        assertThat(nan).filteredOn(x -> x.detector().equals(NonFiniteDetector.ID)).hasSize(1); // once per episode
    }
}
