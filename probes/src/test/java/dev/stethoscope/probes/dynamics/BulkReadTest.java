package dev.stethoscope.probes.dynamics;

import org.junit.jupiter.api.Test;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.NDArrayIndex;

import static org.assertj.core.api.Assertions.assertThat;

class BulkReadTest {

    private static double[] rowMajor(INDArray a) {
        double[][] m = a.toDoubleMatrix();
        double[] out = new double[m.length * m[0].length];
        for (int i = 0; i < m.length; i++) {
            System.arraycopy(m[i], 0, out, i * m[0].length, m[0].length);
        }
        return out;
    }

    @Test
    void readsEveryLayoutOfAMatrixInRowMajorOrder() {
        Nd4j.getRandom().setSeed(4);
        INDArray base = Nd4j.rand(DataType.FLOAT, 7, 9);
        INDArray fOrder = base.dup('f');
        INDArray rowsView = base.get(NDArrayIndex.interval(2, 6), NDArrayIndex.all());
        INDArray colsView = fOrder.get(NDArrayIndex.all(), NDArrayIndex.interval(1, 5));
        INDArray transposed = base.transpose();
        INDArray row = Nd4j.rand(DataType.DOUBLE, 5, 12).get(NDArrayIndex.interval(3, 4), NDArrayIndex.all());
        for (INDArray a : new INDArray[]{base, fOrder, rowsView, colsView, transposed, row}) {
            assertThat(BulkRead.doubles(a)).as("%s %s offset %d", a.ordering(), java.util.Arrays.toString(a.shape()),
                    a.offset()).containsExactly(rowMajor(a));
        }
    }

    @Test
    void readsFloatsInBulkFromEveryLayoutAndFromAnArrayInAWorkspaceLikeBuffer() {
        Nd4j.getRandom().setSeed(5);
        INDArray base = Nd4j.rand(DataType.FLOAT, 128, 784);
        INDArray fOrder = base.dup('f');
        INDArray rowsView = base.get(NDArrayIndex.interval(2, 6), NDArrayIndex.all());
        INDArray fourD = Nd4j.rand(DataType.FLOAT, 3, 2, 4, 5);
        INDArray asDouble = Nd4j.rand(DataType.DOUBLE, 6, 4);
        for (INDArray a : new INDArray[]{base, fOrder, rowsView, fourD, asDouble}) {
            float[] expected = a.dup('c').data().asFloat(); // ND4J's element-by-element reader
            assertThat(BulkRead.floats(a)).as("%s %s %s offset %d", a.dataType(), a.ordering(),
                    java.util.Arrays.toString(a.shape()), a.offset()).containsExactly(expected);
        }
        // a row view of a c-order matrix is contiguous but starts inside its buffer: its own values, not the first row's
        float[] third = BulkRead.floats(base.getRow(2));
        assertThat(third).hasSize(784).containsExactly(base.getRow(2).dup().data().asFloat());
    }
}
