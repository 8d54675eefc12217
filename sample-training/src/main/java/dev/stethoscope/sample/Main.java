package dev.stethoscope.sample;

import dev.stethoscope.sample.cli.BenchAssertionsCommand;
import dev.stethoscope.sample.cli.BenchAttributionCommand;
import dev.stethoscope.sample.cli.BenchCommand;
import dev.stethoscope.sample.cli.BenchFeaturesCommand;
import dev.stethoscope.sample.cli.BenchMemorizationCommand;
import dev.stethoscope.sample.cli.BenchSuspectsCommand;
import dev.stethoscope.sample.cli.CalibrateCsrCommand;
import dev.stethoscope.sample.cli.ExperimentCommand;
import dev.stethoscope.sample.cli.ExplainCommand;
import dev.stethoscope.sample.cli.SelfTestCommand;
import dev.stethoscope.sample.cli.ExportCommand;
import dev.stethoscope.sample.cli.FeaturesCommand;
import dev.stethoscope.sample.cli.SuspectsCommand;
import dev.stethoscope.sample.cli.SimilarityCommand;
import dev.stethoscope.sample.cli.SoakCommand;
import dev.stethoscope.sample.cli.TrainCommand;
import dev.stethoscope.sample.cli.ViewCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * Stethoscope's command line: {@code java -jar stethoscope-sample.jar <command>}.
 * {@code --help} on each command lists its flags.
 */
@Command(name = "stethoscope", mixinStandardHelpOptions = true, version = "Stethoscope 0.1.0",
        description = "Training-time monitors for DL4J, shown in the DL4J UI.",
        subcommands = {
                TrainCommand.class,
                ViewCommand.class,
                SimilarityCommand.class,
                SuspectsCommand.class,
                ExportCommand.class,
                FeaturesCommand.class,
                ExplainCommand.class,
                ExperimentCommand.class,
                BenchCommand.class,
                BenchMemorizationCommand.class,
                BenchSuspectsCommand.class,
                dev.stethoscope.sample.cli.BenchSparkCommand.class,
                BenchAttributionCommand.class,
                BenchFeaturesCommand.class,
                BenchAssertionsCommand.class,
                SelfTestCommand.class,
                CalibrateCsrCommand.class,
                SoakCommand.class,
                CommandLine.HelpCommand.class
        })
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /**
     * Runs the command line and exits with its exit code. When ND4J's double-precision LAPACK fails its
     * self-test, the command is first re-executed with OPENBLAS_CORETYPE=Haswell ({@link BlasRelaunch}).
     * JavaCPP's off-heap limits are set first ({@link OffHeapLimits}); the re-executed JVM sets them again.
     */
    public static void main(String[] args) {
        OffHeapLimits.apply(); // before ND4J (JavaCPP) loads: it reads its limits once
        // before any stream is read: stats files may come from elsewhere (see StatsFileFilter)
        dev.stethoscope.plugin.StatsFileFilter.install();
        int relaunched = BlasRelaunch.relaunchIfBackendBroken(args);
        if (relaunched >= 0) {
            System.exit(relaunched);
        }
        System.exit(run(args));
    }

    /** Runs the command line and returns its exit code (for tests). */
    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parsed) -> {
            cmd.getErr().println("Error: " + (ex.getMessage() == null ? ex.toString() : ex.getMessage()));
            org.slf4j.LoggerFactory.getLogger(Main.class).debug("Command failed", ex);
            return 1;
        });
        return cl.execute(args);
    }
}
