/**
 * Memorisation signals (METHODS.md sections 5 and 6): the critical sample ratio
 * found with Langevin Adversarial Sample Search ({@link dev.stethoscope.probes.memorization.CriticalSamples}),
 * loss sensitivity with its Gini coefficient and per-class matrix
 * ({@link dev.stethoscope.probes.memorization.LossSensitivity}), and the
 * randomisation tests' data transforms
 * ({@link dev.stethoscope.probes.memorization.RandomizedIterator}).
 *
 * <p>Every analysis that needs input gradients runs on a
 * {@link dev.stethoscope.probes.model.NetworkCopy}; input gradients are
 * implemented for {@link org.deeplearning4j.nn.multilayer.MultiLayerNetwork}.
 */
package dev.stethoscope.probes.memorization;
