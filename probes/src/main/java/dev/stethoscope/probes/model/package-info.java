/**
 * Read-only access to DL4J networks for analyses: private copies of a network
 * ({@link dev.stethoscope.probes.model.NetworkCopy}), layer naming and selection
 * ({@link dev.stethoscope.probes.model.LayerSelection}) and detached per-layer
 * activations ({@link dev.stethoscope.probes.model.Activations}).
 *
 * <p>Nothing here writes to a network that is being trained: every forward or
 * backward pass an analysis needs runs on a {@link dev.stethoscope.probes.model.NetworkCopy}.
 */
package dev.stethoscope.probes.model;
