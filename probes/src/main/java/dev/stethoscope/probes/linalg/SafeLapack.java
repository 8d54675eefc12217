package dev.stethoscope.probes.linalg;

import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.openblas.global.openblas;
import org.nd4j.linalg.api.blas.BlasException;
import org.nd4j.linalg.api.blas.Lapack;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.cpu.nativecpu.blas.CpuLapack;
import org.nd4j.linalg.factory.BaseNDArrayFactory;
import org.nd4j.linalg.factory.NDArrayFactory;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.ref.Reference;
import java.lang.reflect.Field;

/**
 * ND4J's CPU LAPACK ({@link CpuLapack}, 1.0.0-M2.1) with every buffer kept alive until the
 * native routine returns.
 *
 * <p><b>The bug it fixes.</b> {@code CpuLapack} hands LAPACK only raw addresses
 * ({@code data().addressPointer()}, a pointer that does not own the memory). The native memory of
 * an ND4J array is released by ND4J's deallocator thread once the array's {@code DataBuffer}
 * becomes unreachable. Inside a JIT-compiled method an array that is not read after the call is
 * unreachable <em>during</em> the call, so a garbage collection that happens while LAPACK runs
 * (triggered by any other thread that allocates, e.g. the training thread) can free memory that
 * LAPACK is still writing: the workspace {@code superb} that {@code CpuLapack.dgesvd} allocates
 * itself and never touches again, the {@code tau} of {@code geqrf}, and the caller's input matrix
 * when the caller discards it after the call (as SVD callers usually do, LAPACK overwrites it).
 * The result is glibc heap corruption ({@code corrupted double-linked list},
 * {@code corrupted size vs. prev_size}) or a SIGSEGV in libc, seconds to minutes later, on any
 * thread. This was the native-heap crash of long Stethoscope trainings (docs/reliability.md).
 *
 * <p><b>The fix.</b> Every routine here allocates its temporaries itself and ends with
 * {@link Reference#reachabilityFence} on every array whose address went to native code, so none
 * can be collected before LAPACK returns. Results are bit-identical to {@code CpuLapack} (same
 * LAPACKE calls, same arguments).
 *
 * <p>Use it directly ({@link #instance()}, same API as {@code Nd4j.getBlasWrapper().lapack()}), or
 * call {@link #install()} once so that ND4J itself ({@code Nd4j.getBlasWrapper().lapack()},
 * {@code Eigen}, and every caller in the process) uses it; the Stethoscope listeners, the
 * similarity code and the sample CLI install it. Other ND4J backends (CUDA) are left untouched.
 */
public final class SafeLapack extends CpuLapack {
    private static final Logger log = LoggerFactory.getLogger(SafeLapack.class);
    private static final SafeLapack INSTANCE = new SafeLapack();
    private static volatile boolean installed;

    private SafeLapack() {
    }

    /** The shared instance. */
    public static SafeLapack instance() {
        return INSTANCE;
    }

    /**
     * Makes ND4J's factory return this LAPACK from {@code Nd4j.getBlasWrapper().lapack()} (the CPU
     * backend only; idempotent, thread-safe, cheap after the first call).
     *
     * @return true if ND4J now uses this implementation
     */
    public static boolean install() {
        if (installed) {
            return true;
        }
        synchronized (SafeLapack.class) {
            if (installed) {
                return true;
            }
            NDArrayFactory f = Nd4j.factory();
            Lapack current = f.lapack();
            if (current instanceof SafeLapack) {
                installed = true;
                return true;
            }
            if (!(f instanceof BaseNDArrayFactory) || current == null || current.getClass() != CpuLapack.class) {
                log.warn("ND4J's LAPACK is {} on factory {}: not replaced by SafeLapack (CPU backend only)",
                        current == null ? "null" : current.getClass().getName(), f.getClass().getName());
                return false;
            }
            try {
                Field field = BaseNDArrayFactory.class.getDeclaredField("lapack");
                field.setAccessible(true);
                field.set(f, INSTANCE);
                installed = f.lapack() == INSTANCE;
            } catch (ReflectiveOperationException | RuntimeException e) {
                log.warn("Could not install SafeLapack into ND4J ({}); ND4J's own LAPACK stays in use, which can corrupt"
                        + " the native heap when a garbage collection runs during an SVD", e.toString());
                return false;
            }
            return installed;
        }
    }

    /** Whether {@link #install()} succeeded in this process. */
    public static boolean isInstalled() {
        return installed && Nd4j.factory().lapack() == INSTANCE;
    }

    private static DoublePointer d(INDArray a) {
        return a == null ? null : (DoublePointer) a.data().addressPointer();
    }

    private static FloatPointer f(INDArray a) {
        return a == null ? null : (FloatPointer) a.data().addressPointer();
    }

    private static int ld(INDArray a) {
        return a == null ? 1 : getLda(a);
    }

    @Override
    public void dgesvd(byte jobu, byte jobvt, int m, int n, INDArray a, INDArray s, INDArray u, INDArray vt,
                       INDArray info) {
        INDArray superb = Nd4j.create(DataType.DOUBLE, Math.max(1, Math.min(m, n)));
        try {
            int status = openblas.LAPACKE_dgesvd(getColumnOrder(a), jobu, jobvt, m, n, d(a), getLda(a), d(s), d(u), ld(u),
                    d(vt), ld(vt), d(superb));
            if (status != 0) {
                throw new BlasException("Failed to execute dgesvd", status);
            }
        } finally {
            fence(a, s, u, vt, info, superb);
        }
    }

    @Override
    public void sgesvd(byte jobu, byte jobvt, int m, int n, INDArray a, INDArray s, INDArray u, INDArray vt,
                       INDArray info) {
        INDArray superb = Nd4j.create(DataType.FLOAT, Math.max(1, Math.min(m, n)));
        try {
            int status = openblas.LAPACKE_sgesvd(getColumnOrder(a), jobu, jobvt, m, n, f(a), getLda(a), f(s), f(u), ld(u),
                    f(vt), ld(vt), f(superb));
            if (status != 0) {
                throw new BlasException("Failed to execute sgesvd", status);
            }
        } finally {
            fence(a, s, u, vt, info, superb);
        }
    }

    @Override
    public void dgeqrf(int m, int n, INDArray a, INDArray r, INDArray info) {
        INDArray tau = Nd4j.create(DataType.DOUBLE, n);
        try {
            int status = openblas.LAPACKE_dgeqrf(getColumnOrder(a), m, n, d(a), getLda(a), d(tau));
            if (status != 0) {
                throw new BlasException("Failed to execute dgeqrf", status);
            }
            copyR(a, r);
            status = openblas.LAPACKE_dorgqr(getColumnOrder(a), m, n, n, d(a), getLda(a), d(tau));
            if (status != 0) {
                throw new BlasException("Failed to execute dorgqr", status);
            }
        } finally {
            fence(a, r, info, tau, null, null);
        }
    }

    @Override
    public void sgeqrf(int m, int n, INDArray a, INDArray r, INDArray info) {
        INDArray tau = Nd4j.create(DataType.FLOAT, n);
        try {
            int status = openblas.LAPACKE_sgeqrf(getColumnOrder(a), m, n, f(a), getLda(a), f(tau));
            if (status != 0) {
                throw new BlasException("Failed to execute sgeqrf", status);
            }
            copyR(a, r);
            status = openblas.LAPACKE_sorgqr(getColumnOrder(a), m, n, n, f(a), getLda(a), f(tau));
            if (status != 0) {
                throw new BlasException("Failed to execute sorgqr", status);
            }
        } finally {
            fence(a, r, info, tau, null, null);
        }
    }

    /** As CpuLapack: R = the upper triangle of the first columns() rows of the factored A. */
    private static void copyR(INDArray a, INDArray r) {
        if (r == null) {
            return;
        }
        r.assign(a.get(NDArrayIndex.interval(0, a.columns()), NDArrayIndex.all()));
        INDArrayIndex[] ix = new INDArrayIndex[2];
        for (int i = 1; i < Math.min(a.rows(), a.columns()); i++) {
            ix[0] = NDArrayIndex.point(i);
            ix[1] = NDArrayIndex.interval(0, i);
            r.put(ix, 0);
        }
    }

    @Override
    public int dsyev(char jobz, char uplo, int n, INDArray a, INDArray w) {
        try {
            return super.dsyev(jobz, uplo, n, a, w); // its own work array is read after the call: safe
        } finally {
            fence(a, w, null, null, null, null);
        }
    }

    @Override
    public int ssyev(char jobz, char uplo, int n, INDArray a, INDArray w) {
        try {
            return super.ssyev(jobz, uplo, n, a, w);
        } finally {
            fence(a, w, null, null, null, null);
        }
    }

    @Override
    public void dgetrf(int m, int n, INDArray a, INDArray ipiv, INDArray info) {
        try {
            super.dgetrf(m, n, a, ipiv, info);
        } finally {
            fence(a, ipiv, info, null, null, null);
        }
    }

    @Override
    public void sgetrf(int m, int n, INDArray a, INDArray ipiv, INDArray info) {
        try {
            super.sgetrf(m, n, a, ipiv, info);
        } finally {
            fence(a, ipiv, info, null, null, null);
        }
    }

    @Override
    public void dpotrf(byte uplo, int n, INDArray a, INDArray info) {
        try {
            super.dpotrf(uplo, n, a, info);
        } finally {
            fence(a, info, null, null, null, null);
        }
    }

    @Override
    public void spotrf(byte uplo, int n, INDArray a, INDArray info) {
        try {
            super.spotrf(uplo, n, a, info);
        } finally {
            fence(a, info, null, null, null, null);
        }
    }

    /** Keeps the arrays (and so their native buffers) reachable up to this point. */
    private static void fence(INDArray a, INDArray b, INDArray c, INDArray d, INDArray e, INDArray g) {
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(b);
        Reference.reachabilityFence(c);
        Reference.reachabilityFence(d);
        Reference.reachabilityFence(e);
        Reference.reachabilityFence(g);
    }
}
