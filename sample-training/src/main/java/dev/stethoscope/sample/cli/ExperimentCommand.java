package dev.stethoscope.sample.cli;

import dev.stethoscope.probes.memorization.LassParameters;
import dev.stethoscope.sample.data.LabeledImages;
import dev.stethoscope.sample.data.MnistData;
import dev.stethoscope.sample.experiment.MemorizationStudy;
import dev.stethoscope.sample.experiment.MemorizationStudy.ArpitRow;
import dev.stethoscope.sample.experiment.MemorizationStudy.ZhangRow;
import dev.stethoscope.sample.experiment.MemorizationStudy.ZhangSummary;
import dev.stethoscope.sample.experiment.Plots;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

/**
 * Reproduces, on an MNIST subset with the sample MLP, Arpit et al.'s label-noise
 * study (per epoch: training accuracy on noisy and true labels, validation
 * accuracy, critical sample ratio, loss-sensitivity Gini) and Zhang et al.'s
 * randomisation test (epochs to fit random vs true labels). Writes CSV files,
 * PNG plots and a Markdown summary to the output folder.
 */
@Command(name = "experiment", mixinStandardHelpOptions = true,
        description = "Arpit et al. label-noise study and Zhang et al. random-label test on an MNIST subset (CSV + PNG).")
public final class ExperimentCommand implements Callable<Integer> {
    @Option(names = "--train-limit", defaultValue = "10000", description = "Training examples (first N; default ${DEFAULT-VALUE}).")
    int trainLimit;

    @Option(names = "--test-limit", defaultValue = "10000", description = "Validation (test) examples (first N; default ${DEFAULT-VALUE}).")
    int testLimit;

    @Option(names = "--noise", split = ",", defaultValue = "0,0.2,0.4,0.6,0.8",
            description = "Label noise levels p (default ${DEFAULT-VALUE}).")
    double[] noise;

    @Option(names = "--epochs", defaultValue = "20", description = "Epochs per noise level (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--batch", defaultValue = "128", description = "Minibatch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "42", description = "Seed of weights, shuffling and corruption (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--csr-examples", defaultValue = "500", description = "Validation examples searched by LASS each epoch (default ${DEFAULT-VALUE}).")
    int csrExamples;

    @Option(names = "--lass-radius", defaultValue = "0.05", description = "LASS L-inf radius r in [0,1] pixel units (default ${DEFAULT-VALUE}).")
    double radius;

    @Option(names = "--lass-alpha", defaultValue = "0.01", description = "LASS step alpha (default ${DEFAULT-VALUE}).")
    double alpha;

    @Option(names = "--lass-beta", defaultValue = "0.008", description = "LASS noise beta (default ${DEFAULT-VALUE}).")
    double beta;

    @Option(names = "--lass-iterations", defaultValue = "30", description = "LASS maximum steps (default ${DEFAULT-VALUE}).")
    int lassIterations;

    @Option(names = "--sensitivity-examples", defaultValue = "500", description = "Training examples for loss sensitivity (default ${DEFAULT-VALUE}).")
    int sensitivityExamples;

    @Option(names = "--sensitivity-every", defaultValue = "20", description = "Loss sensitivity every N iterations (default ${DEFAULT-VALUE}).")
    int sensitivityEvery;

    @Option(names = "--skip-arpit", description = "Run only Zhang's test.")
    boolean skipArpit;

    @Option(names = "--skip-zhang", description = "Run only Arpit's study.")
    boolean skipZhang;

    @Option(names = "--zhang-corrupt", split = ",", defaultValue = "none,random-labels",
            description = "Randomisations of Zhang's test (values of --corrupt; default ${DEFAULT-VALUE}).")
    String[] zhangCorrupt;

    @Option(names = "--zhang-target", defaultValue = "0.99", description = "Training accuracy to reach (default ${DEFAULT-VALUE}).")
    double zhangTarget;

    @Option(names = "--zhang-max-epochs", defaultValue = "100", description = "Epoch cap per randomisation (default ${DEFAULT-VALUE}).")
    int zhangMaxEpochs;

    @Mixin
    DataOptions dataOptions;


    @Option(names = "--out", description = "Output folder (default: runs/experiment-<date-time>).")
    Path out;

    @Override
    public Integer call() throws Exception {
        if (epochs < 1 || batch < 1 || trainLimit < 1 || testLimit < 1 || zhangMaxEpochs < 1) {
            throw new IllegalArgumentException("--epochs, --batch, --train-limit, --test-limit and --zhang-max-epochs must be >= 1");
        }
        Checks.atLeast("--csr-examples", csrExamples, 1);
        Checks.inRange("--lass-radius", radius, 0, 1, false);
        Checks.positive("--lass-alpha", alpha);
        Checks.inRange("--lass-beta", beta, 0, 1, false);
        Checks.atLeast("--lass-iterations", lassIterations, 1);
        Checks.atLeast("--sensitivity-examples", sensitivityExamples, 1);
        Checks.atLeast("--sensitivity-every", sensitivityEvery, 1);
        Checks.inRange("--zhang-target", zhangTarget, 0, 1, false);
        dataOptions.validate();
        for (double p : noise) {
            if (!(p >= 0 && p <= 1)) {
                throw new IllegalArgumentException("--noise levels must be in [0, 1], got " + p);
            }
        }
        List<CorruptionOption> corruptions = new ArrayList<>();
        for (String s : zhangCorrupt) {
            corruptions.add(CorruptionOption.parse(s));
        }
        LassParameters lass = LassParameters.defaults().withRadius(radius).withAlpha(alpha).withBeta(beta)
                .withMaxIterations(lassIterations).withSeed(seed);
        Path dir = out != null ? out : Path.of("runs", "experiment-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Files.createDirectories(dir);

        MnistData mnist = dataOptions.load();
        LabeledImages train = DataOptions.limit(mnist.train(), trainLimit);
        LabeledImages test = mnist.test().head(Math.min(testLimit, mnist.test().size()));
        int classes = mnist.numClasses();
        System.out.printf(Locale.ROOT, "MLP 784-512-10 (Adam 1e-3), %d training / %d validation examples, batch %d, seed %d%n",
                train.size(), test.size(), batch, seed);
        StringBuilder md = new StringBuilder();

        if (!skipArpit) {
            System.out.println("Arpit et al.: label noise " + Arrays.toString(noise) + ", " + epochs + " epochs each; LASS " + lass.asMap());
            MemorizationStudy.ArpitConfig cfg = new MemorizationStudy.ArpitConfig(noise, epochs, batch, seed, lass,
                    Math.min(csrExamples, test.size()), Math.min(sensitivityExamples, train.size()), sensitivityEvery);
            List<ArpitRow> rows = MemorizationStudy.arpit(train, test, classes, cfg, r -> System.out.printf(Locale.ROOT,
                    "  p=%.1f epoch %2d: train acc (noisy labels) %.4f, (true labels) %.4f, val acc %.4f, CSR %.4f, Gini %.4f  [%.1f s]%n",
                    r.noise(), r.epoch(), r.trainAccNoisy(), r.trainAccClean(), r.valAcc(), r.csr(), r.gini(), r.epochSeconds()));
            writeArpit(dir, rows, lass);
            md.append(arpitSummary(rows, lass));
        }
        if (!skipZhang) {
            System.out.println("Zhang et al.: " + corruptions + " until training accuracy " + zhangTarget
                    + " (max " + zhangMaxEpochs + " epochs)");
            List<ZhangRow> rows = new ArrayList<>();
            List<ZhangSummary> sums = MemorizationStudy.zhang(train, test, classes, corruptions, zhangTarget,
                    zhangMaxEpochs, batch, seed, rows, r -> System.out.printf(Locale.ROOT,
                            "  %s epoch %3d: train acc %.4f, test acc %.4f [%.1f s]%n",
                            r.transform(), r.epoch(), r.trainAcc(), r.testAcc(), r.epochSeconds()));
            writeZhang(dir, rows, sums);
            md.append(zhangSummary(sums));
        }
        Files.writeString(dir.resolve("summary.md"), md.toString());
        System.out.println(md);
        System.out.println("Written to " + dir.toAbsolutePath());
        return 0;
    }

    private static void writeArpit(Path dir, List<ArpitRow> rows, LassParameters lass) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(dir.resolve("arpit.csv")))) {
            w.println("noise,epoch,train_acc_noisy_labels,train_acc_true_labels,val_acc,train_loss_noisy,val_loss,csr,"
                    + "critical,csr_examples,sensitivity_gini,sensitivity_mean,epoch_seconds,csr_seconds,"
                    + "lass_radius,lass_alpha,lass_beta,lass_iterations");
            for (ArpitRow r : rows) {
                w.printf(Locale.ROOT, "%.2f,%d,%.5f,%.5f,%.5f,%.5f,%.5f,%.5f,%d,%d,%.5f,%.6g,%.3f,%.3f,%s,%s,%s,%d%n",
                        r.noise(), r.epoch(), r.trainAccNoisy(), r.trainAccClean(), r.valAcc(), r.trainLossNoisy(),
                        r.valLoss(), r.csr(), r.critical(), r.csrExamples(), r.gini(), r.sensitivityMean(),
                        r.epochSeconds(), r.monitorSeconds(), lass.radius(), lass.alpha(), lass.beta(), lass.maxIterations());
            }
        }
        Plots.Lines val = new Plots.Lines();
        Plots.Lines trainNoisy = new Plots.Lines();
        Plots.Lines csr = new Plots.Lines();
        Plots.Lines gini = new Plots.Lines();
        for (ArpitRow r : rows) {
            String name = String.format(Locale.ROOT, "noise %.1f", r.noise());
            val.add(name, r.epoch(), r.valAcc());
            trainNoisy.add(name, r.epoch(), r.trainAccNoisy());
            csr.add(name, r.epoch(), r.csr());
            gini.add(name, r.epoch(), r.gini());
        }
        Plots.write(dir.resolve("arpit-val-accuracy.png").toFile(), "Validation accuracy", "epoch", "accuracy", val);
        Plots.write(dir.resolve("arpit-train-accuracy.png").toFile(), "Training accuracy (labels as trained, noisy)",
                "epoch", "accuracy", trainNoisy);
        Plots.write(dir.resolve("arpit-csr.png").toFile(), String.format(Locale.ROOT,
                "Critical sample ratio (LASS r=%s, %d steps)", lass.radius(), lass.maxIterations()), "epoch", "CSR", csr);
        Plots.write(dir.resolve("arpit-gini.png").toFile(), "Loss-sensitivity Gini coefficient", "epoch", "Gini", gini);
    }

    private static void writeZhang(Path dir, List<ZhangRow> rows, List<ZhangSummary> sums) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(dir.resolve("zhang.csv")))) {
            w.println("transform,epoch,train_acc,test_acc,epoch_seconds");
            for (ZhangRow r : rows) {
                w.printf(Locale.ROOT, "%s,%d,%.5f,%.5f,%.3f%n", r.transform(), r.epoch(), r.trainAcc(), r.testAcc(), r.epochSeconds());
            }
        }
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(dir.resolve("zhang-summary.csv")))) {
            w.println("transform,target,epochs_to_target,epochs_run,final_train_acc,final_test_acc,seconds");
            for (ZhangSummary s : sums) {
                w.printf(Locale.ROOT, "%s,%.3f,%d,%d,%.5f,%.5f,%.1f%n", s.transform(), s.target(), s.epochsToTarget(),
                        s.epochsRun(), s.finalTrainAcc(), s.finalTestAcc(), s.seconds());
            }
        }
        Plots.Lines acc = new Plots.Lines();
        for (ZhangRow r : rows) {
            acc.add(r.transform(), r.epoch(), r.trainAcc());
        }
        Plots.write(dir.resolve("zhang-train-accuracy.png").toFile(), "Training accuracy per randomisation", "epoch",
                "accuracy", acc);
    }

    private static String arpitSummary(List<ArpitRow> rows, LassParameters lass) {
        StringBuilder s = new StringBuilder();
        s.append(String.format(Locale.ROOT, "### Label noise (Arpit et al.), LASS r=%s alpha=%s beta=%s, %d steps%n%n",
                lass.radius(), lass.alpha(), lass.beta(), lass.maxIterations()));
        s.append("| noise | best val acc (epoch) | final val acc | final train acc (noisy labels) | final train acc (true labels) | CSR first epoch | CSR final | Gini first | Gini final |\n");
        s.append("|---|---|---|---|---|---|---|---|---|\n");
        double p = Double.NaN;
        List<ArpitRow> group = new ArrayList<>();
        for (int i = 0; i <= rows.size(); i++) {
            if (i == rows.size() || (i > 0 && rows.get(i).noise() != p)) {
                ArpitRow first = group.get(0);
                ArpitRow last = group.get(group.size() - 1);
                ArpitRow best = group.stream().max((a, b) -> Double.compare(a.valAcc(), b.valAcc())).orElseThrow();
                s.append(String.format(Locale.ROOT, "| %.1f | %.4f (%d) | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f | %.4f |%n",
                        p, best.valAcc(), best.epoch(), last.valAcc(), last.trainAccNoisy(), last.trainAccClean(),
                        first.csr(), last.csr(), first.gini(), last.gini()));
                group.clear();
            }
            if (i < rows.size()) {
                p = rows.get(i).noise();
                group.add(rows.get(i));
            }
        }
        return s.append('\n').toString();
    }

    private static String zhangSummary(List<ZhangSummary> sums) {
        StringBuilder s = new StringBuilder("### Randomisation test (Zhang et al.)\n\n");
        s.append("| data | epochs to target train acc | final train acc | final test acc | seconds |\n|---|---|---|---|---|\n");
        for (ZhangSummary z : sums) {
            s.append(String.format(Locale.ROOT, "| %s | %s (target %.2f) | %.4f | %.4f | %.0f |%n", z.transform(),
                    z.epochsToTarget() < 0 ? "not reached in " + z.epochsRun() : String.valueOf(z.epochsToTarget()),
                    z.target(), z.finalTrainAcc(), z.finalTestAcc(), z.seconds()));
        }
        return s.append('\n').toString();
    }
}
