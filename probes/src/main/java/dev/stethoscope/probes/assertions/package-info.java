/**
 * Training-bug detectors (issue #14, METHODS.md section 3) as plain functions over windows of
 * training signals; no listener code.
 *
 * <p>A listener turns each step's ND4J arrays into a {@link dev.stethoscope.probes.assertions.StepSignals}
 * (helpers in {@link dev.stethoscope.probes.assertions.Signals}) and each epoch into an
 * {@link dev.stethoscope.probes.assertions.EpochSignals}, feeds them to a
 * {@link dev.stethoscope.probes.assertions.DetectorSuite}, and records the
 * {@link dev.stethoscope.probes.assertions.Finding}s it returns. Each
 * {@link dev.stethoscope.probes.assertions.Detector} is a small class with its thresholds (from
 * AUTOTRAINER, DeepDiagnosis and UMLAUT, documented on the class);
 * {@link dev.stethoscope.probes.assertions.Episode} makes a detector fire once per episode and re-arm
 * after its condition has been absent for a number of steps. {@link dev.stethoscope.probes.assertions.ConfigLint}
 * checks a configuration and the first batch at attach time. Thresholds and their calibration:
 * docs/ASSERTIONS.md.
 */
package dev.stethoscope.probes.assertions;
