/**
 * Feature evolution (Zeiler &amp; Fergus 2014; METHODS.md section 1), the math only: a streaming top-k of each
 * unit's strongest activations fed from the training forward passes ({@link dev.stethoscope.probes.features.StreamingTopK}),
 * the receptive field of a unit and the input crop it sees ({@link dev.stethoscope.probes.features.ReceptiveField}),
 * the deconvnet projection of one activation to pixels ({@link dev.stethoscope.probes.features.DeconvProjection}),
 * exemplar-change metrics between snapshots ({@link dev.stethoscope.probes.features.ExemplarChange}),
 * a 2-d PCA aligned across epochs by orthogonal Procrustes ({@link dev.stethoscope.probes.features.AlignedPca})
 * and fixed-bin histograms for ridgelines ({@link dev.stethoscope.probes.features.FixedBinHistogram}).
 * MultiLayerNetwork only.
 */
package dev.stethoscope.probes.features;
