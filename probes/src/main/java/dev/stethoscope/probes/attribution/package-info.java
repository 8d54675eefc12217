/**
 * Explanation attributors (METHODS.md section 8): one {@link dev.stethoscope.probes.attribution.Attributor}
 * interface, one class per method over shared bases:
 * {@link dev.stethoscope.probes.attribution.GradientAttributor} (DL4J's own backprop of a pre-softmax logit),
 * {@link dev.stethoscope.probes.attribution.PerturbationAttributor} (forward passes on perturbed inputs) and
 * {@link dev.stethoscope.probes.attribution.PropagationAttributor} (layer-by-layer rules over the copy's weights:
 * LRP, DeepLIFT, Guided backprop, Deconvnet, Grad-CAM). All run on a
 * {@link dev.stethoscope.probes.model.NetworkCopy}, never on the training network.
 */
package dev.stethoscope.probes.attribution;
