package dev.stethoscope.sample.data;

import dev.stethoscope.listeners.data.IndexedArrayIterator;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Images with one label each (a training or test split). Example {@code i} is
 * the {@code i}-th image and label of the IDX files, which is also its stable
 * example index.
 */
public final class LabeledImages {
    private final IdxImages images;
    private final IdxLabels labels;

    private LabeledImages(IdxImages images, IdxLabels labels) {
        this.images = images;
        this.labels = labels;
    }

    /**
     * Pairs images with labels.
     *
     * @throws IdxFormatException if the counts differ (names both files)
     */
    public static LabeledImages of(IdxImages images, IdxLabels labels) throws IdxFormatException {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(labels, "labels");
        if (images.count() != labels.count()) {
            Path blame = labels.source() != null ? labels.source() : images.source();
            throw new IdxFormatException(blame, "image and label counts differ: " + labels.count() + " labels in "
                    + labels.source() + " but " + images.count() + " images in " + images.source());
        }
        return new LabeledImages(images, labels);
    }

    /** Reads an image file and its label file ({@link IdxReader#readPair}). */
    public static LabeledImages read(Path imagesFile, Path labelsFile) throws IOException {
        return IdxReader.readPair(imagesFile, labelsFile);
    }

    /** The images. */
    public IdxImages images() {
        return images;
    }

    /** The labels. */
    public IdxLabels labels() {
        return labels;
    }

    /** The labels as an array (not a copy: do not modify). */
    public int[] labelValues() {
        return labels.values();
    }

    /** Number of examples. */
    public int size() {
        return images.count();
    }

    /** Rows per image. */
    public int rows() {
        return images.rows();
    }

    /** Columns per image. */
    public int cols() {
        return images.cols();
    }

    /** Number of examples of each class {@code 0..numClasses-1}. */
    public int[] classCounts(int numClasses) {
        int[] counts = new int[numClasses];
        for (int l : labels.values()) {
            if (l >= numClasses) {
                throw new IllegalArgumentException("label " + l + " >= numClasses " + numClasses);
            }
            counts[l]++;
        }
        return counts;
    }

    /** The first {@code n} examples (copies; their indices stay 0..n-1). */
    public LabeledImages head(int n) {
        return new LabeledImages(images.head(n), labels.head(n));
    }

    /**
     * The same images with other labels, e.g. {@link LabelNoise.Result#labels()}.
     *
     * @param newLabels one label (0..255) per image; copied
     */
    public LabeledImages withLabels(int[] newLabels) {
        if (newLabels.length != size()) {
            throw new IllegalArgumentException(newLabels.length + " labels for " + size() + " images");
        }
        return new LabeledImages(images, new IdxLabels(labels.source(), newLabels.clone()));
    }

    /**
     * A DL4J iterator over these examples whose batches carry the stable
     * example indices {@code 0..size-1} (positions in the IDX files): flat
     * float features (pixel / 255) and one-hot labels, class names "0", "1", ...
     *
     * @param numClasses number of classes (one-hot width)
     * @param batchSize  examples per batch
     * @param shuffle    whether to shuffle every pass (deterministically from {@code seed})
     * @param seed       shuffle seed
     */
    public IndexedArrayIterator iterator(int numClasses, int batchSize, boolean shuffle, long seed) {
        List<String> names = new ArrayList<>(numClasses);
        for (int c = 0; c < numClasses; c++) {
            names.add(Integer.toString(c));
        }
        IndexedArrayIterator.Builder b = IndexedArrayIterator.builder(features(), oneHotLabels(numClasses))
                .batchSize(batchSize)
                .labelNames(names);
        if (shuffle) {
            b.shuffle(seed);
        }
        return b.build();
    }

    /** Pixels / 255 as float features {@code [size, rows*cols]} ({@link DataConversion#features(IdxImages)}). */
    public INDArray features() {
        return DataConversion.features(images);
    }

    /** One-hot labels {@code [size, numClasses]} ({@link DataConversion#oneHot(int[], int)}). */
    public INDArray oneHotLabels(int numClasses) {
        return DataConversion.oneHot(labels.values(), numClasses);
    }

    /** Features and one-hot labels as one DL4J DataSet (without example indices). */
    public DataSet toDataSet(int numClasses) {
        return new DataSet(features(), oneHotLabels(numClasses));
    }
}
