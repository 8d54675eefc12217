package dev.stethoscope.sample.npy;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

class NpyReaderTest {
    private static final double[][] M = {{1.5, -2, 3.25}, {4, 5e-7, -6e10}};

    @Test
    void readsFloat64AndFloat32InCAndFortranOrderAndBothByteOrders(@TempDir Path dir) throws Exception {
        for (String descr : new String[]{"<f8", ">f8", "<f4", ">f4"}) {
            for (boolean fortran : new boolean[]{false, true}) {
                Path f = dir.resolve("m" + descr.replace('<', 'l').replace('>', 'b') + fortran + ".npy");
                NpyWriter.write(f, M, descr, fortran);
                INDArray x = NpyReader.read(f);
                assertThat(x.shape()).containsExactly(2, 3);
                for (int i = 0; i < 2; i++) {
                    for (int j = 0; j < 3; j++) {
                        double tol = descr.endsWith("f4") ? Math.abs(M[i][j]) * 1e-7 : 0;
                        assertThat(x.getDouble(i, j)).as(descr + " fortran=" + fortran + " (" + i + "," + j + ")")
                                .isCloseTo(M[i][j], within(tol));
                    }
                }
            }
        }
    }

    /** ND4J's own reader agrees on a C-order float64 file (it is not used: it has no Fortran-order test here). */
    @Test
    void agreesWithNd4jReaderOnCOrder(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("c.npy");
        NpyWriter.write(f, M, "<f8", false);
        INDArray nd4j = Nd4j.createFromNpyFile(f.toFile());
        assertThat(NpyReader.read(f)).isEqualTo(nd4j.castTo(org.nd4j.linalg.api.buffer.DataType.DOUBLE));
    }

    @Test
    void clearErrors(@TempDir Path dir) throws Exception {
        Path txt = dir.resolve("x.npy");
        Files.writeString(txt, "hello, not numpy");
        assertThatThrownBy(() -> NpyReader.read(txt)).hasMessageContaining("not a supported .npy").hasMessageContaining("magic");
        assertThatThrownBy(() -> NpyReader.read(dir.resolve("missing.npy"))).hasMessageContaining("Cannot read");
        Path cplx = dir.resolve("c.npy");
        NpyWriter.write(cplx, M, "<f8", false);
        byte[] b = Files.readAllBytes(cplx);
        String s = new String(b, java.nio.charset.StandardCharsets.ISO_8859_1).replace("<f8", "|O8");
        Files.write(cplx, s.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
        assertThatThrownBy(() -> NpyReader.read(cplx)).hasMessageContaining("dtype");
    }
}
