package dev.stethoscope.listeners.features;

import dev.stethoscope.listeners.core.Schedule;
import dev.stethoscope.listeners.records.FeatureSnapshot;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureImage;
import dev.stethoscope.listeners.records.FeatureSnapshot.FeatureUnit;
import dev.stethoscope.probes.features.DeconvProjection;
import dev.stethoscope.probes.features.ReceptiveField;
import org.deeplearning4j.datasets.iterator.utilty.ListDataSetIterator;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.ui.model.storage.InMemoryStatsStorage;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.learning.config.Sgd;
import org.nd4j.linalg.lossfunctions.LossFunctions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * Large inputs (3x96x96, float): between snapshots the listener keeps receptive-field crops for convolution units
 * and whole rows only for the units that see the whole input; the kept bytes are measured through
 * {@link FeatureEvolutionListener#heldInputBytes()}, not by timing.
 */
class FeatureEvolutionCropsTest {
    private static final Logger log = LoggerFactory.getLogger(FeatureEvolutionCropsTest.class);
    static final int N = 48;
    static final int C = 3;
    static final int S = 96;
    static final long ROW_BYTES = (long) C * S * S * 4;

    static MultiLayerNetwork net() {
        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder().dataType(DataType.FLOAT).seed(4)
                .updater(new Sgd(0.01)).list()
                .layer(new ConvolutionLayer.Builder(5, 5).stride(2, 2).name("conv1").nOut(8).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool1").kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(3, 3).name("conv2").nOut(8).activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).name("pool2").kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().name("dense").nOut(16).activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).name("out").nOut(2)
                        .activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutional(S, S, C)).build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        return net;
    }

    /** Random images with a bright square at a random place in each, labelled by the square's half. */
    static DataSet data() {
        Nd4j.getRandom().setSeed(17);
        INDArray x = Nd4j.rand(DataType.FLOAT, N, C, S, S).muli(0.5);
        INDArray y = Nd4j.zeros(DataType.FLOAT, N, 2);
        java.util.Random r = new java.util.Random(5);
        for (int i = 0; i < N; i++) {
            int py = r.nextInt(S - 12);
            int px = r.nextInt(S - 12);
            x.get(NDArrayIndex.point(i), NDArrayIndex.all(), NDArrayIndex.interval(py, py + 12),
                    NDArrayIndex.interval(px, px + 12)).addi(1.0);
            y.putScalar(i, px < S / 2 ? 0 : 1, 1.0);
        }
        return new DataSet(x, y);
    }

    @Test
    void keepsCropsNotWholeInputsAndProjectsFromThem() {
        DataSet d = data();
        MultiLayerNetwork net = net();
        InMemoryStatsStorage storage = new InMemoryStatsStorage();
        // InputType.convolutional: the configuration does not hold the image size, the builder asks for it
        assertThatThrownBy(() -> FeatureEvolutionListener.builder(net, storage).build())
                .hasMessageContaining("inputShape(channels, height, width)").hasMessageContaining("conv1");
        FeatureEvolutionListener l = FeatureEvolutionListener.builder(net, storage).layers("conv1", "conv2", "dense")
                .inputShape(C, S, S).unitsPerLayer(4).schedule(Schedule.atEpochs(1)).probeExamples(0).build();
        // the stated bound: conv1 all 8 filters x 9 x 3x5x5; conv2 4 units x 9 x 3x15x15 (3 -> 6 -> 15 rows);
        // dense 4 units x 9 x the whole 3x96x96; 4 bytes per float
        long bound = 8L * 9 * 3 * 5 * 5 * 4 + 4L * 9 * 3 * 15 * 15 * 4 + 4L * 9 * ROW_BYTES;
        assertThat(l.heldInputBoundBytes()).isEqualTo(bound);
        assertThat(l.heldInputBoundText()).contains("conv2: 4 units x k=9 x crop 3x15x15 x 4 B = 97200 B")
                .contains("dense: 4 units x k=9 x whole input 3x96x96");
        net.addListeners(l);
        net.fit(new ListDataSetIterator<>(d.asList(), 16), 1); // examples named in data-set order
        assertThat(l.errorCount()).isZero();
        long held = l.heldInputBytes();
        List<FeatureSnapshot> recs = FeatureEvolutionListenerTest.records(storage, l.sessionId());
        assertThat(recs).extracting(FeatureSnapshot::layerName).containsExactly("conv1", "conv2", "dense");

        // what is kept is exactly one crop per distinct (layer, example, position) of a conv entry, of the size
        // the record shows, plus one whole row per distinct example of a dense entry
        Set<String> cropKeys = new HashSet<>();
        long cropBytes = 0;
        Set<Long> denseExamples = new HashSet<>();
        Set<Long> allExamples = new HashSet<>();
        for (FeatureSnapshot s : recs) {
            for (FeatureUnit u : s.units()) {
                assertThat(u.crops()).hasSize(u.examples().length);
                assertThat(u.projections()).hasSize(u.examples().length);
                for (int j = 0; j < u.examples().length; j++) {
                    allExamples.add(u.examples()[j]);
                    FeatureImage c = u.crops().get(j);
                    if (s.layer() == 4) {
                        denseExamples.add(u.examples()[j]);
                        assertThat(c.pixels()).hasSize(C * S * S);
                    } else if (cropKeys.add(s.layer() + "/" + u.examples()[j] + "/" + u.ys()[j] + "/" + u.xs()[j])) {
                        cropBytes += 4L * c.pixels().length;
                    }
                }
            }
        }
        assertThat(l.heldCrops()).isEqualTo(cropKeys.size());
        assertThat(l.heldWholeInputs()).isEqualTo(denseExamples.size());
        assertThat(held).isEqualTo(cropBytes + denseExamples.size() * ROW_BYTES);
        assertThat(held).isLessThanOrEqualTo(bound);
        assertThat(cropBytes).isLessThanOrEqualTo(8L * 9 * 300 + 4L * 9 * 2700);
        // before: the whole row of every example in some top-k
        long before = allExamples.size() * ROW_BYTES;
        long convBefore = 0;
        Set<Long> convExamples = new HashSet<>();
        for (FeatureSnapshot s : recs.subList(0, 2)) {
            for (FeatureUnit u : s.units()) {
                for (long e : u.examples()) {
                    convExamples.add(e);
                }
            }
        }
        convBefore = convExamples.size() * ROW_BYTES;
        assertThat(cropBytes * 10).isLessThan(convBefore);
        log.info("3x{}x{} float inputs, {} examples: kept {} B (crops {} B for {} conv entries, {} whole rows); "
                        + "whole rows of every top-k example would be {} B ({} B for the conv layers' {} examples); bound {} B",
                S, S, N, held, cropBytes, cropKeys.size(), denseExamples.size(), before, convBefore, convExamples.size(), bound);

        // the records' projections, made from the crops, equal the whole input's projection in the same window
        ReceptiveField rf = ReceptiveField.of(net, C, S, S);
        DeconvProjection deconv = new DeconvProjection(net); // the network as at the snapshot (end of the only epoch)
        int checked = 0;
        for (FeatureSnapshot s : recs.subList(0, 2)) {
            for (FeatureUnit u : s.units()) {
                int m = u.examples().length;
                INDArray[] rows = new INDArray[m];
                for (int j = 0; j < m; j++) {
                    rows[j] = d.getFeatures().get(NDArrayIndex.interval(u.examples()[j], u.examples()[j] + 1));
                }
                int[] units = new int[m];
                java.util.Arrays.fill(units, u.unit());
                INDArray x = Nd4j.concat(0, rows);
                INDArray p = deconv.project(x, s.layer(), units, u.ys(), u.xs());
                for (int j = 0; j < m; j++) {
                    ReceptiveField.Window w = rf.crop(rows[j], s.layer(), u.ys()[j], u.xs()[j]).clipped();
                    FeatureImage got = u.projections().get(j);
                    assertThat(got.y0()).isEqualTo(w.y0());
                    assertThat(got.x0()).isEqualTo(w.x0());
                    float[] want = p.get(NDArrayIndex.point(j), NDArrayIndex.all(), NDArrayIndex.interval(w.y0(), w.y1() + 1),
                            NDArrayIndex.interval(w.x0(), w.x1() + 1)).dup('c').data().asFloat();
                    assertThat(got.pixels()).hasSize(want.length);
                    double scale = 1e-9;
                    for (float v : want) {
                        scale = Math.max(scale, Math.abs(v));
                    }
                    for (int i = 0; i < want.length; i++) {
                        assertThat((double) got.pixels()[i]).isCloseTo(want[i], org.assertj.core.data.Offset.offset(1e-5 * scale));
                    }
                    // the crop is the input's window
                    float[] crop = rows[j].reshape('c', C, S, S).get(NDArrayIndex.all(), NDArrayIndex.interval(w.y0(), w.y1() + 1),
                            NDArrayIndex.interval(w.x0(), w.x1() + 1)).dup('c').data().asFloat();
                    assertThat(u.crops().get(j).pixels()).containsExactly(crop);
                    checked++;
                }
            }
        }
        assertThat(checked).isEqualTo(12 * 9);
        l.close();
        assertThat(l.heldInputBytes()).isZero();
    }
}
