package dev.stethoscope.spark;

import dev.stethoscope.listeners.core.CpuAccounting;
import dev.stethoscope.listeners.core.StethoscopeListener;
import org.deeplearning4j.core.storage.StatsStorageRouter;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.deeplearning4j.core.storage.listener.RoutingIterationListener;
import org.nd4j.linalg.api.ndarray.INDArray;

import java.util.List;
import java.util.Map;

/**
 * A worker-side monitor behind a wrapper that adds the CPU time of each of its callbacks to
 * {@link CpuAccounting} under "spark worker: MONITOR.CALLBACK" (only shipped when the accounting is
 * on, {@code -Dstethoscope.cpuAccounting=true}, for overhead measurements). The accounting is
 * per JVM: in {@code local[N]} the workers are threads of the driver's JVM and their totals appear
 * in its report; on a cluster they stay in the executors. Forwards every callback and DL4J's
 * routing calls (router, worker and session ids) unchanged.
 */
final class TimedWorkerListener extends BaseTrainingListener implements RoutingIterationListener {
    @java.io.Serial
    private static final long serialVersionUID = 1L;

    private final StethoscopeListener l;
    private final String prefix;

    TimedWorkerListener(StethoscopeListener l) {
        this.l = l;
        this.prefix = "spark worker: " + l.monitorName() + ".";
    }

    /** The wrapped monitor. */
    StethoscopeListener monitor() {
        return l;
    }

    @Override
    public void iterationDone(Model model, int iteration, int epoch) {
        long t = CpuAccounting.start();
        l.iterationDone(model, iteration, epoch);
        CpuAccounting.add(prefix + "iterationDone", t);
    }

    @Override
    public void onForwardPass(Model model, List<INDArray> activations) {
        long t = CpuAccounting.start();
        l.onForwardPass(model, activations);
        CpuAccounting.add(prefix + "onForwardPass", t);
    }

    @Override
    public void onForwardPass(Model model, Map<String, INDArray> activations) {
        long t = CpuAccounting.start();
        l.onForwardPass(model, activations);
        CpuAccounting.add(prefix + "onForwardPass", t);
    }

    @Override
    public void onGradientCalculation(Model model) {
        long t = CpuAccounting.start();
        l.onGradientCalculation(model);
        CpuAccounting.add(prefix + "onGradientCalculation", t);
    }

    @Override
    public void onBackwardPass(Model model) {
        long t = CpuAccounting.start();
        l.onBackwardPass(model);
        CpuAccounting.add(prefix + "onBackwardPass", t);
    }

    @Override
    public void onEpochStart(Model model) {
        l.onEpochStart(model);
    }

    @Override
    public void onEpochEnd(Model model) {
        l.onEpochEnd(model);
    }

    @Override
    public void setStorageRouter(StatsStorageRouter router) {
        l.setStorageRouter(router);
    }

    @Override
    public StatsStorageRouter getStorageRouter() {
        return l.getStorageRouter();
    }

    @Override
    public void setWorkerID(String workerID) {
        l.setWorkerID(workerID);
    }

    @Override
    public String getWorkerID() {
        return l.getWorkerID();
    }

    @Override
    public void setSessionID(String sessionID) {
        l.setSessionID(sessionID);
    }

    @Override
    public String getSessionID() {
        return l.getSessionID();
    }

    @Override
    public RoutingIterationListener clone() {
        return new TimedWorkerListener((StethoscopeListener) l.clone());
    }
}
