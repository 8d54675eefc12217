package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.probes.features.AlignedPca;
import dev.stethoscope.listeners.records.FeatureProjection;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.listeners.records.StethoscopeRecord;
import org.deeplearning4j.core.storage.Persistable;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.memory.MemoryWorkspace;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** {@link FeatureEvolutionListener} on a tiny real conv net trained on generated images. */
class FeatureEvolutionListenerTest {
    static final int N = 70; // the last batch of 16 is partial
    static final int SIDE = 10;

    static MultiLayerNetwork net() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.DOUBLE).seed(3)
                .updater(new Sgd(0.05)).list()
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv").nOut(4).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("dense").nOut(20).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(SIDE, SIDE, 1)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    static DataSet data() {
        Nd4j.getRandom().setSeed(11);
        INDArray x = Nd4j.rand(DataType.DOUBLE, N, SIDE * SIDE);
        INDArray y = Nd4j.zeros(DataType.DOUBLE, N, 2);
        for (int i = 0; i < N; i++) {
            y.putScalar(i, x.getDouble(i, 0) > 0.5 ? 1 : 0, 1.0);
        }
        return new DataSet(x, y);
    }

    static ListDataSetIterator<DataSet> iterator(DataSet d) {
        return new ListDataSetIterator<>(d.asList(), 16); // fixed order: example index = data-set row
    }

    static List<FeatureSnapshot> records(InMemoryStatsStorage storage, String session) {
        List<FeatureSnapshot> out = new ArrayList<>();
        for (Persistable p : storage.getAllUpdatesAfter(session, FeatureSnapshot.TYPE_ID, 0)) {
            out.add(((StethoscopeRecord) p).payload(FeatureSnapshot.class));
        }
        return out;
    }

    @Test
    void snapshotsAtScheduledEpochsOnlyWithoutChangingTraining() {
        DataSet d = data();
        MultiLayerNetwork bare = net();
        bare.fit(iterator(d), 4);

        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // an independent recorder of the training forward passes of epoch 3, for a brute-force top-k
        List<INDArray[]> epoch3 = new ArrayList<>();
        int[] epochNow = {0};
        net.addListeners(new BaseTrainingListener() {
            @Override
            public void onEpochStart(Model model) {
                epochNow[0]++;
            }

            @Override
            public void onForwardPass(Model model, List<INDArray> activations) {
                if (epochNow[0] == 3) {
                    try (MemoryWorkspace ignored = Nd4j.getWorkspaceManager().scopeOutOfWorkspaces()) {
                        epoch3.add(activations.stream().map(INDArray::dup).toArray(INDArray[]::new));
                    }
                }
            }
        });
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(net, storage)
                .layers("conv", "pool", "dense").schedule(Schedule.atEpochs(1, 3)).unitsPerLayer(5).probeExamples(20).attach()) {
            l = fl;
            net.fit(iterator(d), 4);
        }
        assertThat(l.errorCount()).isZero();
        assertThat(net.params()).isEqualTo(bare.params()); // bit-identical training

        List<FeatureSnapshot> recs = records(storage, l.sessionId());
        assertThat(recs).extracting(FeatureSnapshot::snapshotEpoch).containsExactly(1, 1, 1, 3, 3, 3);
        assertThat(recs).extracting(FeatureSnapshot::layerName).containsExactly("conv", "pool", "dense", "conv", "pool", "dense");
        FeatureSnapshot conv3 = recs.get(3);
        assertThat(conv3.units()).extracting(FeatureUnit::unit).containsExactly(0, 1, 2, 3);
        assertThat(recs.get(5).units()).extracting(FeatureUnit::unit).containsExactly(0, 4, 8, 12, 16);
        assertThat(recs.get(0).filters()).hasSize(4).allSatisfy(f -> assertThat(f.pixels()).hasSize(9));
        assertThat(recs.get(1).filters()).isEmpty();
        assertThat(recs.get(0).comparedUnits()).isZero();
        assertThat(recs.get(0).changedFraction()).isNaN();
        assertThat(conv3.comparedUnits()).isEqualTo(4);
        assertThat(conv3.meanOverlap()).isBetween(0.0, 1.0);
        assertThat(recs.get(3).activations().bins()).hasSize(64);
        assertThat(recs.get(3).activations().lo()).isEqualTo(recs.get(0).activations().lo()); // fixed bins
        assertThat(recs.get(3).activations().hi()).isEqualTo(recs.get(0).activations().hi());
        long total = java.util.Arrays.stream(conv3.activations().bins()).sum() + conv3.activations().underflow()
                + conv3.activations().overflow() + conv3.activations().nan();
        assertThat(total).isEqualTo(20L * 4 * 8 * 8); // 20 probe examples, 4 channels of 8x8

        // top-k of epoch 3 equals a brute-force top-k over the same forward passes (layers 0, 1, 2 -> list 1, 2, 3)
        assertThat(epoch3).hasSize(5);
        for (int li = 0; li < 3; li++) {
            FeatureSnapshot r = recs.get(3 + li);
            for (FeatureUnit u : r.units()) {
                List<double[]> all = new ArrayList<>(); // value, example, y, x
                int ex = 0;
                for (INDArray[] batch : epoch3) {
                    INDArray a = batch[li + 1];
                    for (int i = 0; i < a.size(0); i++, ex++) {
                        all.add(maxOf(a, i, u.unit(), ex));
                    }
                }
                List<double[]> top = all.stream().sorted(Comparator.<double[]>comparingDouble(v -> -v[0])
                        .thenComparingDouble(v -> v[1])).limit(9).collect(Collectors.toList());
                assertThat(u.values()).containsExactly(top.stream().mapToDouble(v -> v[0]).toArray());
                assertThat(u.examples()).containsExactly(top.stream().mapToLong(v -> (long) v[1]).toArray());
                assertThat(u.ys()).containsExactly(top.stream().mapToInt(v -> (int) v[2]).toArray());
                assertThat(u.xs()).containsExactly(top.stream().mapToInt(v -> (int) v[3]).toArray());
            }
        }
        // a first-layer crop is the input's 3x3 window at the top entry's position
        FeatureUnit u0 = conv3.units().get(0);
        var crop = u0.crops().get(0);
        assertThat(crop.height()).isEqualTo(3);
        INDArray img = d.getFeatures().getRow(u0.examples()[0]).reshape(SIDE, SIDE);
        for (int yy = 0; yy < 3; yy++) {
            for (int xx = 0; xx < 3; xx++) {
                assertThat((double) crop.pixels()[yy * 3 + xx])
                        .isCloseTo(img.getDouble(u0.ys()[0] + yy, u0.xs()[0] + xx), org.assertj.core.data.Offset.offset(1e-6));
            }
        }
        assertThat(crop.y0()).isEqualTo(u0.ys()[0]);
        assertThat(u0.projections()).hasSize(9);
        // closed form at the first layer: the deconvnet projection of one position is a x the unit's filter, a the
        // activation recomputed by the end-of-epoch network (close to the streamed value: one epoch of small steps)
        float[] proj = u0.projections().get(0).pixels();
        float[] filter = conv3.filters().get(u0.unit()).pixels();
        assertThat(proj).hasSize(9);
        assertThat(u0.projections().get(0).y0()).isEqualTo(crop.y0());
        double pf = 0;
        double ff = 0;
        for (int i = 0; i < 9; i++) {
            pf += proj[i] * filter[i];
            ff += filter[i] * filter[i];
        }
        double a = pf / ff;
        assertThat(a).isCloseTo(u0.values()[0], org.assertj.core.data.Offset.offset(0.05 * u0.values()[0]));
        for (int i = 0; i < 9; i++) {
            assertThat((double) proj[i]).isCloseTo(a * filter[i], org.assertj.core.data.Offset.offset(1e-5));
        }
    }

    /** Max over positions of unit {@code unit} on row i (first row-major position on ties): value, ex, y, x. */
    static double[] maxOf(INDArray a, int i, int unit, int ex) {
        if (a.rank() == 2) {
            return new double[]{a.getDouble(i, unit), ex, 0, 0};
        }
        double best = Double.NEGATIVE_INFINITY;
        int by = 0;
        int bx = 0;
        for (int y = 0; y < a.size(2); y++) {
            for (int x = 0; x < a.size(3); x++) {
                double v = a.getDouble(i, unit, y, x);
                if (v > best) {
                    best = v;
                    by = y;
                    bx = x;
                }
            }
        }
        return new double[]{best, ex, by, bx};
    }

    @Test
    void andLastWithoutRunLengthIsPublishedByCloseOnce() {
        DataSet d = data();
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l = FeatureEvolutionListener.builder(net, storage).layers("conv")
                .schedule(Schedule.atEpochs(1).andLast()).attach();
        net.fit(iterator(d), 3);
        assertThat(records(storage, l.sessionId())).extracting(FeatureSnapshot::snapshotEpoch).containsExactly(1);
        l.close();
        l.close();
        assertThat(records(storage, l.sessionId())).extracting(FeatureSnapshot::snapshotEpoch).containsExactly(1, 3);
        assertThat(l.errorCount()).isZero();
    }

    static List<FeatureProjection> projections(InMemoryStatsStorage storage, String session) {
        List<FeatureProjection> out = new ArrayList<>();
        for (Persistable p : storage.getAllUpdatesAfter(session, FeatureProjection.TYPE_ID, 0)) {
            out.add(((StethoscopeRecord) p).payload(FeatureProjection.class));
        }
        return out;
    }

    static double rms(float[] ax, float[] ay, float[] bx, float[] by, double sx, double sy, boolean swap) {
        double s = 0;
        for (int i = 0; i < ax.length; i++) {
            double x = sx * (swap ? ay[i] : ax[i]);
            double y = sy * (swap ? ax[i] : ay[i]);
            s += (x - bx[i]) * (x - bx[i]) + (y - by[i]) * (y - by[i]);
        }
        return Math.sqrt(s / ax.length);
    }

    /**
     * The 2-D projection of the dense layer on held-out points: one record per snapshot, the classes of the points,
     * consecutive snapshots aligned (the stored points are closer to the previous snapshot's than the unaligned PCA
     * and than any sign flip or axis swap of themselves), the last snapshot the PCA of the final network up to an
     * orthogonal map (same pairwise distances), training unchanged.
     */
    @Test
    void alignedProjectionOfHeldOutPointsAtEachSnapshot() {
        DataSet d = data();
        MultiLayerNetwork bare = net();
        bare.fit(iterator(d), 4);
        Nd4j.getRandom().setSeed(12);
        INDArray hx = Nd4j.rand(DataType.DOUBLE, 30, SIDE * SIDE);
        INDArray hy = Nd4j.zeros(DataType.DOUBLE, 30, 2);
        for (int i = 0; i < 30; i++) {
            hy.putScalar(i, hx.getDouble(i, 0) > 0.5 ? 1 : 0, 1.0);
        }
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        FeatureEvolutionListener l;
        try (FeatureEvolutionListener fl = FeatureEvolutionListener.builder(net, storage).layers("conv", "dense")
                .schedule(Schedule.epochs(1)).projectionData(new DataSet(hx, hy)).projectionPoints(25).attach()) {
            l = fl;
            net.fit(iterator(d), 4);
        }
        assertThat(l.errorCount()).isZero();
        assertThat(net.params()).isEqualTo(bare.params()); // the projection runs on the copy

        List<FeatureProjection> ps = projections(storage, l.sessionId());
        assertThat(ps).extracting(FeatureProjection::snapshotEpoch).containsExactly(1, 2, 3, 4);
        assertThat(ps).allSatisfy(p -> {
            assertThat(p.layerName()).isEqualTo("dense"); // default: the last followed layer
            assertThat(p.size()).isEqualTo(25);
            assertThat(p.explained()[0]).isBetween(0.0, 1.0).isGreaterThanOrEqualTo(p.explained()[1]);
        });
        for (int i = 0; i < 25; i++) {
            assertThat(ps.get(0).classes()[i]).isEqualTo(hx.getDouble(i, 0) > 0.5 ? 1 : 0);
        }
        assertThat(ps.get(0).alignedError()).isNaN();
        for (int e = 1; e < ps.size(); e++) {
            FeatureProjection cur = ps.get(e);
            FeatureProjection prev = ps.get(e - 1);
            double stored = rms(cur.xs(), cur.ys(), prev.xs(), prev.ys(), 1, 1, false);
            assertThat(cur.alignedError()).isCloseTo(stored, org.assertj.core.data.Offset.offset(1e-4 * (1 + stored)));
            assertThat(cur.alignedError()).isLessThanOrEqualTo(cur.unalignedError() + 1e-9);
            for (boolean swap : new boolean[]{false, true}) {
                for (int sx = -1; sx <= 1; sx += 2) {
                    for (int sy = -1; sy <= 1; sy += 2) {
                        assertThat(stored).isLessThanOrEqualTo(
                                rms(cur.xs(), cur.ys(), prev.xs(), prev.ys(), sx, sy, swap) + 1e-6);
                    }
                }
            }
        }
        // the last snapshot (end of the last epoch) is the final network's PCA up to rotation/reflection
        INDArray acts = net.feedForwardToLayer(2, hx.get(NDArrayIndex.interval(0, 25)), false).get(3);
        INDArray pts = AlignedPca.pca2(acts).points();
        FeatureProjection lastP = ps.get(ps.size() - 1);
        for (int i = 0; i < 25; i++) {
            for (int j = i + 1; j < 25; j++) {
                double want = Math.hypot(pts.getDouble(i, 0) - pts.getDouble(j, 0), pts.getDouble(i, 1) - pts.getDouble(j, 1));
                double got = Math.hypot(lastP.xs()[i] - lastP.xs()[j], lastP.ys()[i] - lastP.ys()[j]);
                assertThat(got).isCloseTo(want, org.assertj.core.data.Offset.offset(1e-4 * (1 + want)));
            }
        }
    }

    @Test
    void badConfigurationListsValidChoices() {
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        assertThat(FeatureEvolutionListener.builder(net, storage).build().layers()).containsExactly(0, 2); // no pooling by default
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(net, storage).layers("nope").build())
                .hasMessageContaining("valid").hasMessageContaining("0:conv").hasMessageContaining("1:pool").hasMessageContaining("2:dense");
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(net, storage).schedule(Schedule.iterations(5)).build())
                .hasMessageContaining("EPOCH_LIST");
        DataSet held = data();
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(net, storage).projectionData(held)
                .projectionLayer("out").build())
                .hasMessageContaining("projection layer 'out'").hasMessageContaining("valid").hasMessageContaining("2:dense");
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(net, storage).projectionLayer("dense").build())
                .hasMessageContaining("needs projectionData");
        assertThat(FeatureEvolutionListener.builder(net, storage).projectionData(held).projectionLayer("pool").build()
                .settings().get("projectionLayer")).isEqualTo("1");
    }
}
