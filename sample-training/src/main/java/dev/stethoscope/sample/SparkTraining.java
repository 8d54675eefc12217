package dev.stethoscope.sample;

import dev.stethoscope.listeners.data.ExampleIndex;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.deeplearning4j.spark.api.RDDTrainingApproach;
import org.deeplearning4j.spark.impl.paramavg.ParameterAveragingTrainingMaster;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.indexing.NDArrayIndex;

import java.util.ArrayList;
import java.util.List;

/**
 * The sample's Spark setup ({@code train --spark MASTER}): a Spark context, the training data as an
 * RDD of minibatches whose examples carry their ids, and DL4J's parameter-averaging training master.
 */
public final class SparkTraining {
    private SparkTraining() {
    }

    /**
     * A Spark context for {@code master} ({@code local[N]}, {@code spark://host:port}, ...); Spark's
     * own web UI is off, and a local master binds to the loopback address.
     */
    public static JavaSparkContext context(String master) {
        SparkConf conf = new SparkConf().setMaster(master).setAppName("stethoscope-sample")
                .set("spark.ui.enabled", "false");
        if (master.startsWith("local")) {
            conf.set("spark.driver.host", "127.0.0.1").set("spark.driver.bindAddress", "127.0.0.1");
        }
        return new JavaSparkContext(conf);
    }

    /**
     * The training examples as minibatches of {@code batch} rows in order, each row carrying its
     * index (0..N-1) as metadata, spread over {@code partitions} partitions.
     */
    public static JavaRDD<DataSet> batches(JavaSparkContext sc, INDArray x, INDArray y, int batch, int partitions) {
        long n = x.size(0);
        List<DataSet> out = new ArrayList<>();
        for (long start = 0; start < n; start += batch) {
            long end = Math.min(n, start + batch);
            DataSet ds = new DataSet(x.get(NDArrayIndex.interval(start, end), NDArrayIndex.all()).dup(),
                    y.get(NDArrayIndex.interval(start, end), NDArrayIndex.all()).dup());
            long[] ids = new long[(int) (end - start)];
            for (int i = 0; i < ids.length; i++) {
                ids[i] = start + i;
            }
            ExampleIndex.attach(ds, ids);
            out.add(ds);
        }
        return sc.parallelize(out, partitions);
    }

    /**
     * Parameter averaging: each worker fits {@code batch}-row minibatches and the parameters are
     * averaged every {@code averagingFrequency} of them; the DataSets go to the workers as they are
     * ({@code Direct}: the examples keep their ids).
     */
    public static ParameterAveragingTrainingMaster master(int batch, int averagingFrequency) {
        return builder(batch, averagingFrequency).build();
    }

    /** As {@link #master(int, int)}, with the seed of DL4J's random split of each epoch into averaging rounds. */
    public static ParameterAveragingTrainingMaster master(int batch, int averagingFrequency, long seed) {
        return builder(batch, averagingFrequency).rngSeed(seed).build();
    }

    private static ParameterAveragingTrainingMaster.Builder builder(int batch, int averagingFrequency) {
        return new ParameterAveragingTrainingMaster.Builder(batch).batchSizePerWorker(batch)
                .averagingFrequency(averagingFrequency).workerPrefetchNumBatches(0).saveUpdater(true)
                .rddTrainingApproach(RDDTrainingApproach.Direct);
    }
}
