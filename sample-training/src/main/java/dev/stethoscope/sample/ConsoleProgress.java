package dev.stethoscope.sample;

import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.evaluation.classification.Evaluation;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Console progress of the sample: iteration progress and loss during an epoch;
 * at its end the mean training loss, the accuracy on a fixed sample of the
 * training set (with the labels trained on, noisy ones included), the test
 * accuracy and the seconds the epoch took (evaluation excluded).
 */
public final class ConsoleProgress extends BaseTrainingListener {
    private final int itersPerEpoch;
    private final DataSetIterator test;
    private final DataSetIterator trainSample;
    private final List<Double> epochSeconds = new ArrayList<>();
    private final List<Double> epochCpuSeconds = new ArrayList<>();
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();
    private long epochStart;
    private long epochCpuStart;
    private int iterInEpoch;
    private long lastPrint;
    private double lossSum;

    /**
     * @param trainSample a fixed sample of the training set for the training accuracy (may be null)
     */
    public ConsoleProgress(int trainExamples, int batch, DataSetIterator test, DataSetIterator trainSample) {
        this.itersPerEpoch = (trainExamples + batch - 1) / batch;
        this.test = test;
        this.trainSample = trainSample;
    }

    @Override
    public void onEpochStart(Model model) {
        epochStart = System.nanoTime();
        epochCpuStart = THREADS.getCurrentThreadCpuTime();
        iterInEpoch = 0;
        lossSum = 0;
        lastPrint = 0;
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        iterInEpoch++;
        lossSum += model.score();
        long now = System.nanoTime();
        boolean terminal = System.console() != null;
        long period = terminal ? 1_000_000_000L : 10_000_000_000L;
        if (now - lastPrint > period || iterInEpoch == itersPerEpoch) {
            lastPrint = now;
            String line = String.format(Locale.ROOT, "epoch %d  iteration %d/%d  loss %.4f", epoch + 1, iterInEpoch,
                    itersPerEpoch, model.score());
            if (terminal) {
                System.out.print("\r" + line + "   ");
            } else {
                System.out.println(line);
            }
            System.out.flush();
        }
    }

    @Override
    public void onEpochEnd(Model model) {
        double secs = (System.nanoTime() - epochStart) / 1e9;
        epochSeconds.add(secs);
        epochCpuSeconds.add((THREADS.getCurrentThreadCpuTime() - epochCpuStart) / 1e9);
        test.reset();
        Evaluation eval = evaluate(model, test);
        String trainAcc = "n/a";
        if (trainSample != null) {
            trainSample.reset();
            trainAcc = String.format(Locale.ROOT, "%.4f", evaluate(model, trainSample).accuracy());
        }
        // no iterations seen: the training ran elsewhere (Spark workers), its loss is not known here
        String loss = iterInEpoch == 0 ? "n/a" : String.format(Locale.ROOT, "%.4f", lossSum / iterInEpoch);
        System.out.printf(Locale.ROOT, (System.console() != null ? "%n" : "") + "epoch %d done in %.1f s: mean training loss %s, train accuracy %s, test accuracy %.4f%n",
                dev.stethoscope.sample.ConfigModels.epochCount(model) + 1, secs, loss, trainAcc, eval.accuracy());
    }

    private static Evaluation evaluate(Model model, DataSetIterator data) {
        if (model instanceof MultiLayerNetwork net) {
            return net.evaluate(data);
        }
        org.deeplearning4j.nn.graph.ComputationGraph g = (org.deeplearning4j.nn.graph.ComputationGraph) model;
        if (g.getConfiguration().getNetworkInputs().size() > 1) {
            // several inputs: the data's examples are the joint form of the inputs (e.g. --model twoview)
            return g.evaluate(new dev.stethoscope.sample.data.JointSplitIterator(data, g));
        }
        return g.evaluate(data);
    }

    /** The seconds of each epoch so far, e.g. "[5.1, 4.8]". */
    public String epochSecondsSummary() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < epochSeconds.size(); i++) {
            sb.append(i > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.1f", epochSeconds.get(i)));
        }
        return sb.append("]").toString();
    }

    /**
     * The training thread's CPU seconds of each epoch so far (the same span as {@link #epochSecondsSummary()}:
     * training and the monitors' work on the training thread, evaluation excluded), e.g. "[4.52, 4.31]".
     */
    public String epochCpuSecondsSummary() {
        StringBuilder sb = new StringBuilder("[");
        for (int i = 0; i < epochCpuSeconds.size(); i++) {
            sb.append(i > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.2f", epochCpuSeconds.get(i)));
        }
        return sb.append("]").toString();
    }

    /** The wall seconds of each epoch so far (evaluation excluded). */
    public List<Double> epochSeconds() {
        return List.copyOf(epochSeconds);
    }
}
