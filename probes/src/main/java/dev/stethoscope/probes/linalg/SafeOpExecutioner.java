package dev.stethoscope.probes.linalg;

import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.ops.BroadcastOp;
import org.nd4j.linalg.api.ops.CustomOp;
import org.nd4j.linalg.api.ops.IndexAccumulation;
import org.nd4j.linalg.api.ops.Op;
import org.nd4j.linalg.api.ops.OpContext;
import org.nd4j.linalg.api.ops.RandomOp;
import org.nd4j.linalg.api.ops.ReduceOp;
import org.nd4j.linalg.api.ops.ScalarOp;
import org.nd4j.linalg.api.ops.executioner.OpExecutioner;
import org.nd4j.linalg.api.ops.impl.summarystats.Variance;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.cpu.nativecpu.ops.NativeOpExecutioner;
import org.nd4j.linalg.factory.Nd4j;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.ref.Reference;
import java.lang.reflect.Field;

/**
 * ND4J's CPU op executioner ({@link NativeOpExecutioner}, 1.0.0-M2.1) that keeps each op, its
 * context and so its input and output arrays reachable until the native op returns.
 *
 * <p>{@code NativeOpExecutioner} hands libnd4j the arrays' native buffers and does not use the op
 * afterwards, so in compiled code an operand that only the op refers to (a temporary such as
 * {@code x.muliColumnVector(Nd4j.createFromArray(f).reshape(k, 1))}) can be collected while the
 * op runs; ND4J's deallocator then frees the native buffer libnd4j is reading or writing (seen as
 * a SIGSEGV in {@code sd::DataBuffer::primary()} under {@code execBroadcast}, see
 * docs/reliability.md). Arrays in a workspace (DL4J's training passes) are not freed by the
 * collector, which is why analyses that run outside workspaces (the Stethoscope monitors) hit it.
 * Every public {@code exec} here calls the original and then {@link Reference#reachabilityFence
 * fences} its arguments; results are those of the original.
 *
 * <p>{@link #install()} makes {@code Nd4j.getExecutioner()} return it (CPU backend only; the
 * listeners and the similarity code install it together with {@link SafeLapack}).
 */
public class SafeOpExecutioner extends NativeOpExecutioner {
    private static final Logger log = LoggerFactory.getLogger(SafeOpExecutioner.class);
    private static volatile boolean installed;

    /** A new executioner; use {@link #install()} to make ND4J use one. */
    public SafeOpExecutioner() {
        super();
    }

    /**
     * Replaces ND4J's op executioner by a {@code SafeOpExecutioner} when it is ND4J's own CPU
     * {@code NativeOpExecutioner} (idempotent, thread-safe).
     *
     * @return true if ND4J now uses a SafeOpExecutioner
     */
    public static boolean install() {
        if (installed) {
            return true;
        }
        synchronized (SafeOpExecutioner.class) {
            if (installed) {
                return true;
            }
            OpExecutioner current = Nd4j.getExecutioner();
            if (current instanceof SafeOpExecutioner) {
                installed = true;
                return true;
            }
            if (current == null || current.getClass() != NativeOpExecutioner.class) {
                log.warn("ND4J's op executioner is {}: not replaced by SafeOpExecutioner (CPU backend only)",
                        current == null ? "null" : current.getClass().getName());
                return false;
            }
            try {
                SafeOpExecutioner safe = new SafeOpExecutioner();
                Field f = Nd4j.class.getDeclaredField("OP_EXECUTIONER_INSTANCE");
                f.setAccessible(true);
                f.set(null, safe);
                installed = Nd4j.getExecutioner() == safe;
            } catch (ReflectiveOperationException | RuntimeException e) {
                log.warn("Could not install SafeOpExecutioner into ND4J ({}); a garbage collection during an op on a"
                        + " temporary array can then free memory libnd4j still uses", e.toString());
                return false;
            }
            return installed;
        }
    }

    /** Whether ND4J's current executioner is a SafeOpExecutioner. */
    public static boolean isInstalled() {
        return Nd4j.getExecutioner() instanceof SafeOpExecutioner;
    }

    private static void fence(Object a, Object b) {
        Reference.reachabilityFence(a);
        Reference.reachabilityFence(b);
    }

    @Override
    public INDArray exec(Op op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(Op op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }

    @Override
    public INDArray exec(IndexAccumulation op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(IndexAccumulation op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }

    @Override
    public INDArray exec(Variance op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(ReduceOp op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(ReduceOp op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }

    @Override
    public INDArray exec(ScalarOp op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(ScalarOp op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }

    @Override
    public INDArray exec(BroadcastOp op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(BroadcastOp op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }

    @Override
    public INDArray exec(RandomOp op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray exec(RandomOp op, Random rng) {
        try {
            return super.exec(op, rng);
        } finally {
            fence(op, rng);
        }
    }

    @Override
    public INDArray exec(RandomOp op, OpContext oc, Random rng) {
        try {
            return super.exec(op, oc, rng);
        } finally {
            fence(op, oc);
            Reference.reachabilityFence(rng);
        }
    }

    @Override
    public INDArray[] exec(CustomOp op) {
        try {
            return super.exec(op);
        } finally {
            fence(op, null);
        }
    }

    @Override
    public INDArray[] exec(CustomOp op, OpContext oc) {
        try {
            return super.exec(op, oc);
        } finally {
            fence(op, oc);
        }
    }
}
