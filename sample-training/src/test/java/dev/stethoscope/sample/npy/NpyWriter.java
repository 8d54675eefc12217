package dev.stethoscope.sample.npy;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Test helper: writes a 2-d .npy file (version 1) the way numpy.save lays it out. */
final class NpyWriter {
    private NpyWriter() {
    }

    /**
     * @param values  values[i][j] of a rows x cols matrix
     * @param descr   '<f8', '<f4', '>f8', ...
     * @param fortran write column-major data and fortran_order True
     */
    static void write(Path file, double[][] values, String descr, boolean fortran) throws IOException {
        int rows = values.length;
        int cols = values[0].length;
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortran ? "True" : "False")
                + ", 'shape': (" + rows + ", " + cols + "), }";
        int unpadded = 10 + dict.length() + 1;
        int pad = (64 - unpadded % 64) % 64;
        String header = dict + " ".repeat(pad) + "\n";
        boolean f4 = descr.endsWith("f4");
        int size = f4 ? 4 : 8;
        ByteBuffer bb = ByteBuffer.allocate(10 + header.length() + rows * cols * size);
        bb.put(new byte[]{(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        bb.order(ByteOrder.LITTLE_ENDIAN).putShort((short) header.length());
        bb.put(header.getBytes(StandardCharsets.ISO_8859_1));
        bb.order(descr.startsWith(">") ? ByteOrder.BIG_ENDIAN : ByteOrder.LITTLE_ENDIAN);
        for (int k = 0; k < rows * cols; k++) {
            int i = fortran ? k % rows : k / cols;
            int j = fortran ? k / rows : k % cols;
            if (f4) {
                bb.putFloat((float) values[i][j]);
            } else {
                bb.putDouble(values[i][j]);
            }
        }
        Files.write(file, bb.array());
    }
}
