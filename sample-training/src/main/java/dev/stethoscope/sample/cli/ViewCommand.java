package dev.stethoscope.sample.cli;

import dev.stethoscope.plugin.StethoscopeUIServer;
import org.deeplearning4j.ui.model.storage.FileStatsStorage;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.File;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** Serves the DL4J UI, with the Stethoscope page, over a stored run. */
@Command(name = "view", mixinStandardHelpOptions = true,
        description = "Serve the DL4J UI with the Stethoscope page over a stored run (its FileStatsStorage file).")
public final class ViewCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "RUN_FILE", description = "The run's stats file (e.g. runs/<run>/stats.dl4j).")
    File runFile;

    @Option(names = "--port", defaultValue = "9000", description = "Port of the UI (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(names = "--bind", defaultValue = StethoscopeUIServer.DEFAULT_BIND,
            description = "Address the UI listens on (default: ${DEFAULT-VALUE}, this machine only).")
    String bind;

    /** Set by tests: stop after starting instead of waiting for Ctrl+C. */
    CountDownLatch stop = new CountDownLatch(1);

    @Override
    public Integer call() throws Exception {
        Checks.port("--port", port);
        FileStatsStorage storage = dev.stethoscope.plugin.StatsFiles.open(runFile);
        try (StethoscopeUIServer ui = StethoscopeUIServer.start(bind, port)) {
            ui.attach(storage);
            System.out.println("Serving " + runFile + " (" + storage.listSessionIDs().size() + " session(s)).");
            System.out.println("Stethoscope: " + ui.url() + "   DL4J: " + ui.url().replace("/stethoscope", "/train"));
            System.out.println("Press Ctrl+C to stop.");
            Runtime.getRuntime().addShutdownHook(new Thread(stop::countDown));
            stop.await();
        } finally {
            storage.close();
        }
        return 0;
    }
}
