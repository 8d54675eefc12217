package dev.stethoscope.sample.experiment;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import dev.stethoscope.listeners.memorization.MemorizationListener;
import dev.stethoscope.listeners.records.Memorization;
import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.sample.Models;
import dev.stethoscope.sample.cli.CorruptionOption;
import dev.stethoscope.sample.data.LabeledImages;
import org.datavec.api.records.metadata.RecordMetaDataIndex;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.dataset.api.iterator.DataSetIterator;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The two studies of the {@code experiment} command, on MNIST subsets with the
 * sample's MLP (784-512-10, Adam 1e-3):
 * <ul>
 *   <li>Arpit et al. 2017: training with label noise p (each label replaced with
 *       probability p by a uniform random class); per epoch, accuracy on the noisy
 *       training labels and on the true ones, validation accuracy, and the
 *       {@link MemorizationListener}'s critical sample ratio and loss-sensitivity Gini;</li>
 *   <li>Zhang et al. 2017: epochs until the training accuracy (on the labels and
 *       pixels as trained) reaches a target, for true labels and each randomisation.</li>
 * </ul>
 */
public final class MemorizationStudy {
    private MemorizationStudy() {
    }

    /** Settings of the label-noise study. */
    public record ArpitConfig(double[] noiseLevels, int epochs, int batch, long seed, LassParameters lass,
                              int csrExamples, int sensitivityExamples, int sensitivityEvery) {
    }

    /** One epoch of one noise level. */
    public record ArpitRow(double noise, int epoch, double trainAccNoisy, double trainAccClean, double valAcc,
                           double trainLossNoisy, double valLoss, double csr, int critical, int csrExamples,
                           double gini, double sensitivityMean, double epochSeconds, double monitorSeconds) {
    }

    /** One epoch of one randomisation. */
    public record ZhangRow(String transform, int epoch, double trainAcc, double testAcc, double epochSeconds) {
    }

    /** Outcome of one randomisation: epochs to reach the target (-1 if not reached). */
    public record ZhangSummary(String transform, double target, int epochsToTarget, int epochsRun,
                               double finalTrainAcc, double finalTestAcc, double seconds) {
    }

    /** Runs the label-noise study; {@code progress} gets every row as it is measured. */
    public static List<ArpitRow> arpit(LabeledImages train, LabeledImages test, int classes, ArpitConfig c,
                                       Consumer<ArpitRow> progress) {
        List<ArpitRow> rows = new ArrayList<>();
        INDArray testX = test.features();
        int[] testY = test.labelValues();
        DataSet val = new DataSet(testX, test.oneHotLabels(classes));
        for (double p : c.noiseLevels()) {
            CorruptionOption opt = CorruptionOption.parse("labels:" + p);
            DataSetIterator base = train.iterator(classes, c.batch(), true, c.seed());
            CorruptionOption.Applied applied = opt.apply(base, c.seed());
            DataSetIterator trainIter = applied.train(base);
            DataSet asTrained = materialize(applied.train(train.iterator(classes, 1000, false, 0)), train.size());
            int[] noisy = argmax(asTrained.getLabels());

            MultiLayerNetwork net = Models.build(Models.Kind.mlp, c.seed(), train.rows(), train.cols(), classes);
            InMemoryStatsStorage storage = new InMemoryStatsStorage();
            MemorizationListener l = MemorizationListener.builder(net, storage)
                    .training(asTrained).trainingSize(c.sensitivityExamples())
                    .validation(val).validationSize(c.csrExamples())
                    .sensitivitySchedule(Schedule.iterations(c.sensitivityEvery())).lass(c.lass()).csrBatchSize(c.csrExamples())
                    .failFast(true)
                    .attach();
            long last = 0;
            for (int e = 1; e <= c.epochs(); e++) {
                long t0 = System.nanoTime();
                net.fit(trainIter);
                l.flush(); // this epoch's record (computed in the background) is published now
                double seconds = (System.nanoTime() - t0) / 1e9;
                Memorization r = null;
                for (Persistable ps : storage.getAllUpdatesAfter(l.sessionId(), Memorization.TYPE_ID, last)) {
                    r = ((StethoscopeRecord) ps).payload(Memorization.class);
                    last = ps.getTimeStamp();
                }
                double[] tn = evaluate(net, asTrained.getFeatures(), noisy, asTrained.getLabels());
                double[] tc = evaluate(net, asTrained.getFeatures(), train.labelValues(), null);
                double[] v = evaluate(net, testX, testY, val.getLabels());
                ArpitRow row = new ArpitRow(p, e, tn[0], tc[0], v[0], tn[1], v[1],
                        r == null ? Double.NaN : r.criticalSampleRatio(), r == null ? 0 : r.criticalCount(),
                        r == null ? 0 : r.csrExamples(), r == null ? Double.NaN : r.sensitivityGini(),
                        r == null ? Double.NaN : r.sensitivityMean(), seconds,
                        r == null ? 0 : r.csrMillis() / 1000.0);
                rows.add(row);
                progress.accept(row);
            }
        }
        return rows;
    }

    /**
     * Runs Zhang's test for each corruption: trains from the same seed until the
     * training accuracy on the data as trained reaches {@code target}, or {@code maxEpochs}.
     */
    public static List<ZhangSummary> zhang(LabeledImages train, LabeledImages test, int classes,
                                           List<CorruptionOption> corruptions, double target, int maxEpochs,
                                           int batch, long seed, List<ZhangRow> rowsOut, Consumer<ZhangRow> progress) {
        List<ZhangSummary> out = new ArrayList<>();
        for (CorruptionOption opt : corruptions) {
            DataSetIterator base = train.iterator(classes, batch, true, seed);
            CorruptionOption.Applied applied = opt.apply(train.iterator(classes, 1000, false, 0), seed);
            DataSetIterator trainIter = applied.train(base);
            DataSet asTrained = materialize(applied.train(train.iterator(classes, 1000, false, 0)), train.size());
            DataSet testSet = materialize(applied.test(test.iterator(classes, 1000, false, 0)), test.size());
            int[] trainY = argmax(asTrained.getLabels());
            int[] testY = argmax(testSet.getLabels());
            MultiLayerNetwork net = Models.build(Models.Kind.mlp, seed, train.rows(), train.cols(), classes);
            int reached = -1;
            double trainAcc = 0;
            double testAcc = 0;
            double total = 0;
            int e = 0;
            while (e < maxEpochs) {
                e++;
                long t0 = System.nanoTime();
                net.fit(trainIter);
                double s = (System.nanoTime() - t0) / 1e9;
                total += s;
                trainAcc = evaluate(net, asTrained.getFeatures(), trainY, null)[0];
                testAcc = evaluate(net, testSet.getFeatures(), testY, null)[0];
                ZhangRow row = new ZhangRow(opt.toString(), e, trainAcc, testAcc, s);
                rowsOut.add(row);
                progress.accept(row);
                if (trainAcc >= target) {
                    reached = e;
                    break;
                }
            }
            out.add(new ZhangSummary(opt.toString(), target, reached, e, trainAcc, testAcc, total));
        }
        return out;
    }

    /** All examples of {@code it} (one pass), rows ordered by their example index 0..n-1. */
    static DataSet materialize(DataSetIterator it, int n) {
        INDArray x = null;
        INDArray y = null;
        it.reset();
        while (it.hasNext()) {
            DataSet ds = it.next();
            if (x == null) {
                x = Nd4j.create(ds.getFeatures().dataType(), n, ds.getFeatures().size(1));
                y = Nd4j.create(ds.getLabels().dataType(), n, ds.getLabels().size(1));
            }
            List<? extends Serializable> meta = ds.getExampleMetaData();
            for (int i = 0; i < ds.numExamples(); i++) {
                long idx = ((RecordMetaDataIndex) meta.get(i)).getIndex();
                x.putRow(idx, ds.getFeatures().getRow(i));
                y.putRow(idx, ds.getLabels().getRow(i));
            }
        }
        it.reset();
        return new DataSet(x, y);
    }

    /** Accuracy against {@code labels} and, if {@code oneHot} is given, mean cross-entropy; in chunks. */
    static double[] evaluate(MultiLayerNetwork net, INDArray x, int[] labels, INDArray oneHot) {
        int n = (int) x.size(0);
        int ok = 0;
        double loss = 0;
        for (int s = 0; s < n; s += 2000) {
            int e = Math.min(n, s + 2000);
            INDArray xs = x.get(NDArrayIndex.interval(s, e), NDArrayIndex.all());
            int[] pred = argmax(net.output(xs, false));
            for (int i = 0; i < pred.length; i++) {
                if (pred[i] == labels[s + i]) {
                    ok++;
                }
            }
            if (oneHot != null) {
                loss += net.scoreExamples(new DataSet(xs, oneHot.get(NDArrayIndex.interval(s, e), NDArrayIndex.all())),
                        false).sumNumber().doubleValue();
            }
        }
        return new double[]{ok / (double) n, oneHot == null ? Double.NaN : loss / n};
    }

    static int[] argmax(INDArray a) {
        INDArray m = a.argMax(1);
        int[] r = new int[(int) m.length()];
        for (int i = 0; i < r.length; i++) {
            r[i] = m.getInt(i);
        }
        return r;
    }
}
