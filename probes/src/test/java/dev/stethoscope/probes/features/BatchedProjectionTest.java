package dev.stethoscope.probes.features;

import dev.stethoscope.probes.attribution.GraphPropagation;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What made the feature snapshot cheaper on the residual graph keeps its values: the forward pass of a projection
 * stops at the projected layer ({@link GraphPropagation#forwardTo}), and the crops of several units go through the
 * network in one batch ({@link DeconvProjection#projectCrops(ReceptiveField, long[], int, int[], List, int[], int[])})
 * with the same result per crop as a call per unit.
 */
class BatchedProjectionTest {

    @Test
    void forwardToGivesForwardsValuesUpToItsNode() {
        ComputationGraph g = GraphFeaturesTest.residual(false, 21);
        GraphPropagation gp = GraphPropagation.of(g, "test");
        Nd4j.getRandom().setSeed(3);
        INDArray x = Nd4j.rand(DataType.DOUBLE, 3, GraphFeaturesTest.SIDE * GraphFeaturesTest.SIDE).subi(0.4);
        List<INDArray> all = gp.forward(x);
        int top = gp.layerEnd("b1-conv2");
        assertTrue(top > 0 && top < all.size() - 1, "a node in the middle of the graph: " + top);
        List<INDArray> part = gp.forwardTo(top, x);
        assertEquals(all.size(), part.size());
        for (int i = 0; i < all.size(); i++) {
            if (i <= top) {
                assertEquals(all.get(i), part.get(i), "node " + i);
            } else {
                assertNull(part.get(i), "node " + i + " is above the top");
            }
        }
        assertThrows(IllegalArgumentException.class, () -> gp.forwardTo(all.size(), x));
    }

    @Test
    void cropsOfSeveralUnitsInOneCallEqualOneCallPerUnit() {
        ComputationGraph g = GraphFeaturesTest.residual(false, 17);
        ReceptiveField rf = ReceptiveField.of(g);
        DeconvProjection d = new DeconvProjection(g);
        Nd4j.getRandom().setSeed(8);
        int side = GraphFeaturesTest.SIDE;
        INDArray x = Nd4j.rand(DataType.DOUBLE, 5, side * side).subi(0.4);
        int compared = 0;
        for (String v : List.of("stem", "b1-conv1", "b1-conv2", "proj", "b2-conv")) {
            int layer = rf.layerIndex(v);
            if (!rf.cropsSmallerThanInput(layer)) {
                continue;
            }
            int[] out = rf.outputSize(layer);
            int channels = rf.outputChannels(layer);
            // three units with four entries each, positions spread over the map (borders included)
            int m = 12;
            int[] units = new int[m];
            int[] ys = new int[m];
            int[] xs = new int[m];
            List<ReceptiveField.Crop> crops = new ArrayList<>();
            for (int j = 0; j < m; j++) {
                units[j] = (j / 4) % channels;
                ys[j] = (j * 5) % out[0];
                xs[j] = (j * 7 + 1) % out[1];
                crops.add(rf.crop(x.getRow(j % 5), layer, ys[j], xs[j]));
            }
            List<INDArray> batched = d.projectCrops(rf, new long[]{side * side}, layer, units, crops, ys, xs);
            assertEquals(m, batched.size());
            double norm = 0;
            for (int u = 0; u < m / 4; u++) {
                int from = u * 4;
                List<INDArray> one = d.projectCrops(rf, new long[]{side * side}, layer, units[from],
                        crops.subList(from, from + 4), java.util.Arrays.copyOfRange(ys, from, from + 4),
                        java.util.Arrays.copyOfRange(xs, from, from + 4));
                for (int j = 0; j < 4; j++) {
                    INDArray a = batched.get(from + j);
                    INDArray b = one.get(j);
                    assertArrayEquals(b.shape(), a.shape(), v + " entry " + (from + j));
                    assertEquals(0.0, a.sub(b).amaxNumber().doubleValue(), 1e-12, v + " entry " + (from + j));
                    norm += b.norm2Number().doubleValue();
                    compared++;
                }
            }
            assertTrue(norm > 0, v + ": the projections are not all zero");
        }
        assertTrue(compared >= 24, "crops compared: " + compared);
        assertThrows(IllegalArgumentException.class, () -> d.projectCrops(rf, new long[]{side * side},
                rf.layerIndex("stem"), new int[]{0}, List.of(), new int[0], new int[0]));
    }
}
