/**
 * Native linear algebra that is safe to call while other threads allocate: {@link
 * dev.stethoscope.probes.linalg.SafeLapack} keeps every buffer handed to LAPACK reachable until
 * the routine returns (ND4J 1.0.0-M2.1's CpuLapack does not, which corrupts the native heap).
 */
package dev.stethoscope.probes.linalg;
