/**
 * Double-precision dense linear algebra the analyses can trust: a numerical self-test of the
 * ND4J/OpenBLAS backend ({@link dev.stethoscope.probes.linalg.BackendSelfTest}) and the
 * decompositions the similarity measures use ({@link dev.stethoscope.probes.linalg.Decompositions}),
 * which run on ND4J's LAPACK when it passed the self-test and on pure-Java EJML otherwise.
 */
package dev.stethoscope.probes.linalg;
