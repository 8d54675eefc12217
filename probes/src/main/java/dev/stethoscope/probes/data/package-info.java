/**
 * Data-pipeline helpers shared by every module: {@link dev.stethoscope.probes.data.ForwardingDataSetIterator},
 * the base of the {@code DataSetIterator} wrappers (randomisation, batch tracking, test fault injection).
 */
package dev.stethoscope.probes.data;
