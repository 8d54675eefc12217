/**
 * Double-precision dense linear algebra the analyses can trust: a numerical self-test of the
 * ND4J/OpenBLAS backend ({@link dev.stethoscope.probes.linalg.BackendSelfTest}) and the
 * decompositions the similarity measures use ({@link dev.stethoscope.probes.linalg.Decompositions}),
 * which run on ND4J's LAPACK when it passed the self-test and on pure-Java EJML otherwise.
 *
 * <p>Native linear algebra that is safe to call while other threads allocate: {@link
 * dev.stethoscope.probes.linalg.SafeLapack} keeps every buffer handed to LAPACK reachable until
 * the routine returns (ND4J 1.0.0-M2.1's CpuLapack does not, which corrupts the native heap).
 */
package dev.stethoscope.probes.linalg;
