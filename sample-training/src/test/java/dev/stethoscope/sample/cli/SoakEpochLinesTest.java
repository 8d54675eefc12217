package dev.stethoscope.sample.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The soak's reading of a growing child console: each "epoch N done" line counted once, when it is complete. */
class SoakEpochLinesTest {
    @TempDir
    Path dir;

    private void append(Path f, String text) throws Exception {
        Files.writeString(f, text, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Test
    void countsEachCompleteEpochLineOnce() throws Exception {
        Path console = dir.resolve("console.log");
        SoakCommand.EpochLines lines = new SoakCommand.EpochLines(console);
        assertEquals(List.of(), lines.newEpochs(), "no console yet");
        append(console, "Model resnet ...\nepoch 1  iteration 1/16  loss 2.3\nepoch 1 done in 12.0 s: mean training loss 2.1\n");
        assertEquals(List.of(1), lines.newEpochs());
        assertEquals(List.of(), lines.newEpochs(), "nothing new");
        append(console, "epoch 2 done in 11.0 s: mean");            // the line is not complete yet
        assertEquals(List.of(), lines.newEpochs());
        append(console, " training loss 1.9\nepoch 3  iteration 4/16\nepoch 3 done in 10.9 s\nepoch 4 done in 10.8 s\n");
        assertEquals(List.of(2, 3, 4), lines.newEpochs());
        append(console, "not an epoch 5 done line\n  epoch 6 done\n");
        assertEquals(List.of(), lines.newEpochs(), "only lines that start with the progress text");
    }

    @Test
    void blockMeansOfTenEpochs() {
        long[] kb = new long[23];
        for (int i = 0; i < kb.length; i++) {
            kb[i] = (i < 10 ? 1000 : i < 20 ? 2000 : 3000) * 1024L;
        }
        assertEquals("1-10 1000, 11-20 2000, 21-23 3000", SoakCommand.epochBlocks(kb));
        assertEquals("", SoakCommand.epochBlocks(new long[0]));
    }
}
