package dev.stethoscope.probes.memorization;

import dev.stethoscope.probes.model.NetworkCopy;
import org.deeplearning4j.nn.graph.ComputationGraph;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.api.rng.Random;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.indexing.INDArrayIndex;
import org.nd4j.linalg.indexing.NDArrayIndex;
import org.nd4j.linalg.ops.transforms.Transforms;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Arrays;

/**
 * Critical sample ratio (CSR) with Langevin Adversarial Sample Search (LASS),
 * Arpit et al. 2017, as defined in METHODS.md section 5.
 *
 * <p>An example x is critical if some x~ with ||x~ - x||_inf &lt;= r has
 * argmax f(x~) != argmax f(x). LASS looks for such an x~: starting at x~ = x, up
 * to {@code maxIterations} times,
 * <pre>
 *   delta = alpha * sign(g) + beta * eta,   eta ~ N(0, I)
 *   x~    = clip(x~ + delta, [x - r, x + r] intersected with [inputMin, inputMax])
 *   critical if argmax f(x~) != argmax f(x)
 * </pre>
 *
 * <p><b>Gradient direction.</b> The paper's slide writes sign(d f_k / dx) without
 * saying which k. This implementation uses the FGSM direction: g is the input
 * gradient of the network's loss for the class predicted at x (the one-hot
 * label argmax f(x)), i.e. the direction that moves x~ out of its class. For a
 * softmax/cross-entropy output this equals minus the gradient of log p_k for the
 * predicted class k.
 *
 * <p><b>Batched.</b> All examples are searched together: each step runs one
 * forward/backward pass ({@code calculateGradients}) for the examples still being
 * searched; the same pass tells whether the previous step made an example
 * critical ({@link InputGradients#gradientsAndPredictions}), so a search of T
 * steps costs T forward/backward passes plus one inference pass for the state
 * after the last step. An example that became critical stops moving and leaves
 * the batch.
 *
 * <p><b>Certified examples.</b> With {@link LassParameters#certify()} (the default), before
 * searching, interval bound propagation ({@link IntervalBounds}) bounds each example's margin
 * over its whole box; an example whose margin provably stays positive cannot be critical
 * whatever the search does, so it is marked non-critical and not searched (its iteration count
 * is reported as {@code maxIterations}, like any non-critical example). Certified examples are
 * non-critical with or without certification; the other examples are searched as before. With
 * deterministic steps (beta = 0) every flag is therefore identical (tested); with Langevin noise
 * the searched examples draw different noise (the batch holds fewer rows), so a seeded run
 * differs from an uncertified one only as two seeds would. At the default radius on MNIST most
 * examples are certified. Networks the bounds do not support are searched in full, and the
 * result says why.
 *
 * <p>The search runs on an analysis copy ({@link InputGradients#analysisCopy}),
 * never on the training network. The noise comes from a private ND4J random
 * generator seeded with {@link LassParameters#seed()}, so the global ND4J random
 * stream (used by training for dropout, weight init) is not consumed.
 *
 * <p><b>ComputationGraph.</b> A single-input, single-output graph (its output vertex an output layer) is searched
 * the same way: input gradients by {@link dev.stethoscope.probes.model.GraphBackward}, certification by
 * {@link GraphIntervalBounds}. A graph that computes the same function as an MLP gives the MLP's result (tested).
 * A single-output graph with several inputs is searched over all its inputs jointly
 * ({@link #search(ComputationGraph, INDArray[], LassParameters, int, boolean)}): x is the concatenation of every
 * input (flattened per example, in the graph's input order), the box ||x~ - x||_inf &lt;= r, the clipping to the input
 * range and the sign step cover every input at once, the gradient is that of the loss with respect to all inputs, and
 * certification bounds the product of the inputs' boxes. A graph with several inputs gives the result of the one-input
 * network that reads the concatenated input (tested). Other graphs are refused with a message saying why.
 */
public final class CriticalSamples {
    private static final Logger log = LoggerFactory.getLogger(CriticalSamples.class);

    private CriticalSamples() {
    }

    /**
     * Runs LASS on every row of {@code x} on the network in {@code copy}.
     *
     * @param copy          a network copy made with {@link InputGradients#analysisCopy}
     * @param x             examples, first dimension = examples, values inside the input range
     * @param p             LASS parameters
     * @param batchSize     examples searched together per batch (e.g. 500); &lt;= 0 for all at once
     * @param keepPerturbed whether to return the final x~ of every example
     */
    public static CsrResult search(NetworkCopy copy, INDArray x, LassParameters p, int batchSize, boolean keepPerturbed) {
        if (copy.model() instanceof ComputationGraph g) {
            return search(g, x, p, batchSize, keepPerturbed);
        }
        MultiLayerNetwork net = InputGradients.requireMultiLayer(copy.model());
        return search(net, x, p, batchSize, keepPerturbed);
    }

    /** The network a search runs on: inference, and input gradients with the predictions at the same inputs. */
    private interface Searched {
        INDArray output(INDArray x);

        InputGradients.GradientsAndPredictions step(INDArray x, INDArray labels);
    }

    /**
     * Runs LASS on every row of {@code x} on a single-input, single-output {@code graph}, which must be a private
     * analysis copy ({@link InputGradients#graphAnalysisCopy}).
     *
     * @throws UnsupportedOperationException for a graph with several inputs or outputs, or whose output vertex is
     *         not an output layer
     * @see #search(NetworkCopy, INDArray, LassParameters, int, boolean)
     */
    public static CsrResult search(ComputationGraph graph, INDArray x, LassParameters p, int batchSize,
                                   boolean keepPerturbed) {
        InputGradients.requireSingleInputOutput(graph, "Critical samples (LASS)");
        Searched net = new Searched() {
            @Override
            public INDArray output(INDArray in) {
                return graph.outputSingle(false, in);
            }

            @Override
            public InputGradients.GradientsAndPredictions step(INDArray in, INDArray labels) {
                return InputGradients.gradientsAndPredictions(graph, in, labels);
            }
        };
        Certifier bounds = null;
        String note = null;
        if (p.certify()) {
            note = GraphIntervalBounds.unsupportedReason(graph);
            if (note == null) {
                bounds = GraphIntervalBounds.of(graph)::certify;
            } else {
                log.debug("LASS searches every example: {}", note);
            }
        }
        return run(net, bounds, note, x, p, batchSize, keepPerturbed);
    }

    /**
     * Runs LASS on every example of a single-output {@code graph} with one or more inputs (a private analysis copy,
     * {@link InputGradients#graphAnalysisCopy}), perturbing all inputs jointly within one box of radius r
     * (the class comment). With one input this is {@link #search(ComputationGraph, INDArray, LassParameters, int,
     * boolean)}.
     *
     * @param xs one array per network input (in the order of the graph's inputs), same number of rows, values inside
     *           the input range
     * @return the result; its perturbed examples (with {@code keepPerturbed}) are joint arrays
     *         ({@link InputGradients#joint}; {@link InputGradients#split} gives the inputs)
     * @throws UnsupportedOperationException for a graph with several outputs, or whose output vertex is not an
     *         output layer
     */
    public static CsrResult search(ComputationGraph graph, INDArray[] xs, LassParameters p, int batchSize,
                                   boolean keepPerturbed) {
        if (xs.length == 1) {
            return search(graph, xs[0], p, batchSize, keepPerturbed);
        }
        InputGradients.requireSingleOutput(graph, "Critical samples (LASS)");
        java.util.List<String> names = graph.getConfiguration().getNetworkInputs();
        if (xs.length != names.size()) {
            throw new IllegalArgumentException("The graph takes " + names.size() + " inputs " + names + "; got "
                    + xs.length + " arrays");
        }
        long[][] shapes = new long[xs.length][];
        for (int i = 0; i < xs.length; i++) {
            shapes[i] = xs[i].shape();
        }
        Searched net = new Searched() {
            @Override
            public INDArray output(INDArray in) {
                return graph.output(false, InputGradients.split(in, shapes))[0];
            }

            @Override
            public InputGradients.GradientsAndPredictions step(INDArray in, INDArray labels) {
                return InputGradients.jointGradientsAndPredictions(graph, InputGradients.split(in, shapes), labels);
            }
        };
        Certifier bounds = null;
        String note = null;
        if (p.certify()) {
            note = GraphIntervalBounds.unsupportedReason(graph);
            if (note == null) {
                GraphIntervalBounds b = GraphIntervalBounds.of(graph);
                bounds = (lo, hi, predicted) -> b.certify(InputGradients.split(lo, shapes),
                        InputGradients.split(hi, shapes), predicted);
            } else {
                log.debug("LASS searches every example: {}", note);
            }
        }
        return run(net, bounds, note, InputGradients.joint(xs), p, batchSize, keepPerturbed);
    }

    /** Proves examples non-critical over their boxes ({@link IntervalBounds#certify}). */
    private interface Certifier {
        boolean[] certify(INDArray lo, INDArray hi, int[] predicted);
    }

    /**
     * Runs LASS on every row of {@code x} on {@code net}, which must be a private
     * analysis copy (its input and gradient buffers are used).
     *
     * @see #search(NetworkCopy, INDArray, LassParameters, int, boolean)
     */
    public static CsrResult search(MultiLayerNetwork net, INDArray x, LassParameters p, int batchSize,
                                   boolean keepPerturbed) {
        Certifier bounds = null;
        String note = null;
        if (p.certify()) {
            note = IntervalBounds.unsupportedReason(net);
            if (note == null) {
                bounds = IntervalBounds.of(net)::certify;
            } else {
                log.debug("LASS searches every example: {}", note);
            }
        }
        Searched searched = new Searched() {
            @Override
            public INDArray output(INDArray in) {
                return net.output(in, false);
            }

            @Override
            public InputGradients.GradientsAndPredictions step(INDArray in, INDArray labels) {
                return InputGradients.gradientsAndPredictions(net, in, labels);
            }
        };
        return run(searched, bounds, note, x, p, batchSize, keepPerturbed);
    }

    private static CsrResult run(Searched net, Certifier bounds, String note, INDArray x, LassParameters p,
                                 int batchSize, boolean keepPerturbed) {
        int n = (int) x.size(0);
        if (n == 0) {
            throw new IllegalArgumentException("No examples to search");
        }
        double min = x.minNumber().doubleValue();
        double max = x.maxNumber().doubleValue();
        if (min < p.inputMin() || max > p.inputMax()) {
            throw new IllegalArgumentException("Inputs lie in [" + min + ", " + max + "], outside the LASS input range ["
                    + p.inputMin() + ", " + p.inputMax() + "]; set the input range to your data's range "
                    + "(LassParameters.withInputRange, infinite bounds allowed)");
        }
        int bs = batchSize <= 0 ? n : batchSize;
        boolean[] critical = new boolean[n];
        int[] iterations = new int[n];
        int[] original = new int[n];
        boolean[] certified = new boolean[n];
        INDArray perturbed = keepPerturbed ? x.dup() : null;
        int steps = 0;
        try (Random rng = Nd4j.getRandomFactory().getNewRandomInstance(p.seed())) {
            for (int start = 0; start < n; start += bs) {
                int end = Math.min(n, start + bs);
                INDArray xb = x.get(rowRange(x, start, end));
                Batch b = searchBatch(net, bounds, xb, p, rng);
                System.arraycopy(b.critical, 0, critical, start, end - start);
                System.arraycopy(b.iterations, 0, iterations, start, end - start);
                System.arraycopy(b.original, 0, original, start, end - start);
                System.arraycopy(b.certified, 0, certified, start, end - start);
                if (perturbed != null) {
                    perturbed.get(rowRange(x, start, end)).assign(b.perturbed.reshape(xb.shape()));
                }
                steps = Math.max(steps, b.steps);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception closeFailure) {
            // only Random.close() declares a checked exception
            log.debug("Closing the LASS random generator failed", closeFailure);
        }
        return new CsrResult(CsrResult.count(critical) / (double) n, critical, iterations, original, perturbed, steps, p, certified, note);
    }

    private static INDArrayIndex[] rowRange(INDArray x, int start, int end) {
        INDArrayIndex[] idx = new INDArrayIndex[x.rank()];
        idx[0] = NDArrayIndex.interval(start, end);
        for (int i = 1; i < idx.length; i++) {
            idx[i] = NDArrayIndex.all();
        }
        return idx;
    }

    private record Batch(boolean[] critical, int[] iterations, int[] original, boolean[] certified,
                         INDArray perturbed, int steps) {
    }

    private static Batch searchBatch(Searched net, Certifier bounds, INDArray xIn, LassParameters p,
                                     Random rng) {
        long[] shape = xIn.shape();
        int n = (int) shape[0];
        long d = xIn.length() / n;
        INDArray x = xIn.dup('c').reshape('c', n, d);
        INDArray out0 = net.output(reshapeTo(x, shape, n));
        int[] original = InputGradients.argmax(out0);
        int numClasses = (int) out0.size(1);

        INDArray lo = Transforms.max(x.sub(p.radius()), p.inputMin());
        INDArray hi = Transforms.min(x.add(p.radius()), p.inputMax());

        boolean[] critical = new boolean[n];
        int[] iterations = new int[n];
        Arrays.fill(iterations, p.maxIterations());
        INDArray result = x.dup();

        boolean[] certified = bounds == null ? new boolean[n]
                : bounds.certify(reshapeTo(lo, shape, n), reshapeTo(hi, shape, n), original);
        // compacted state of the examples still searched
        int searched = n - CsrResult.count(certified);
        int[] active = new int[searched];
        for (int i = 0, k = 0; i < n; i++) {
            if (!certified[i]) {
                active[k++] = i;
            }
        }
        INDArray xt;
        INDArray loA;
        INDArray hiA;
        int[] origA = new int[searched];
        for (int k = 0; k < searched; k++) {
            origA[k] = original[active[k]];
        }
        if (searched == n) {
            xt = x.dup();
            loA = lo;
            hiA = hi;
        } else if (searched > 0) {
            xt = Nd4j.pullRows(x, 1, active);
            loA = Nd4j.pullRows(lo, 1, active);
            hiA = Nd4j.pullRows(hi, 1, active);
        } else {
            return new Batch(critical, iterations, original, certified, result, 0);
        }
        int steps = 0;
        int[] pred = null; // predictions at the current xt, when known
        for (int t = 1; t <= p.maxIterations() + 1 && active.length > 0; t++) {
            dev.stethoscope.probes.linalg.NativeMemory.collectIfGrown(); // each step's arrays are garbage by the next
            int m = active.length;
            INDArray g = null;
            if (t <= p.maxIterations()) {
                // one pass: the gradient at xt, and the predictions at xt from the same forward pass
                InputGradients.GradientsAndPredictions gp = net.step(reshapeTo(xt, shape, m),
                        InputGradients.oneHot(origA, numClasses, x));
                g = gp.gradients().reshape('c', m, d);
                pred = t == 1 ? null : gp.predictions(); // at t = 1, xt = x: not critical by definition
            } else {
                pred = InputGradients.argmax(net.output(reshapeTo(xt, shape, m))); // after the last step
            }
            if (pred != null) {
                // the state xt reached after step t - 1
                int keep = 0;
                for (int i = 0; i < m; i++) {
                    if (pred[i] != origA[i]) {
                        critical[active[i]] = true;
                        iterations[active[i]] = t - 1;
                        result.putRow(active[i], xt.getRow(i));
                    } else {
                        keep++;
                    }
                }
                if (keep < m) {
                    int[] keepIdx = new int[keep];
                    int[] newActive = new int[keep];
                    int[] newOrig = new int[keep];
                    int k = 0;
                    for (int i = 0; i < m; i++) {
                        if (pred[i] == origA[i]) {
                            keepIdx[k] = i;
                            newActive[k] = active[i];
                            newOrig[k] = origA[i];
                            k++;
                        }
                    }
                    if (keep > 0) {
                        xt = Nd4j.pullRows(xt, 1, keepIdx);
                        loA = Nd4j.pullRows(loA, 1, keepIdx);
                        hiA = Nd4j.pullRows(hiA, 1, keepIdx);
                        if (g != null) {
                            g = Nd4j.pullRows(g, 1, keepIdx);
                        }
                    }
                    active = newActive;
                    origA = newOrig;
                    m = keep;
                }
            }
            if (g == null || m == 0) {
                break;
            }
            steps = t;
            INDArray delta = Transforms.sign(g, false).muli(p.alpha());
            if (p.beta() > 0) {
                delta.addi(Nd4j.randn(rng, m, d).castTo(x.dataType()).muli(p.beta()));
            }
            xt.addi(delta);
            Transforms.min(xt, hiA, false);
            Transforms.max(xt, loA, false);
        }
        for (int i = 0; i < active.length; i++) {
            result.putRow(active[i], xt.getRow(i));
        }
        return new Batch(critical, iterations, original, certified, result, steps);
    }

    private static INDArray reshapeTo(INDArray flat, long[] shape, int n) {
        if (shape.length == 2) {
            return flat;
        }
        long[] s = shape.clone();
        s[0] = n;
        return flat.reshape('c', s);
    }
}
