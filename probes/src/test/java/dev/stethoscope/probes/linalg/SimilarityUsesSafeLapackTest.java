package dev.stethoscope.probes.linalg;

import dev.stethoscope.probes.similarity.LayerRepresentations;
import org.junit.jupiter.api.Test;
import org.nd4j.linalg.factory.Nd4j;

import static org.assertj.core.api.Assertions.assertThat;

/** The similarity entry point installs {@link SafeLapack} before any SVD runs. */
class SimilarityUsesSafeLapackTest {
    @Test
    void layerRepresentationsInstallsSafeLapack() throws Exception {
        Class.forName(LayerRepresentations.class.getName(), true, LayerRepresentations.class.getClassLoader());
        assertThat(Nd4j.getBlasWrapper().lapack()).isSameAs(SafeLapack.instance());
    }
}
