package dev.stethoscope.probes.linalg;

/** Not a test: runs the self-test's checks at the sizes given as args (rows cols ...). */
public final class SelfTestSizesMain {
    public static void main(String[] args) {
        for (int i = 0; i + 1 < args.length; i += 2) {
            int r = Integer.parseInt(args[i]);
            int c = Integer.parseInt(args[i + 1]);
            BackendSelfTest.Result res = BackendSelfTest.run(r, c);
            System.out.println(r + "x" + c + " passed=" + res.passed() + " ms=" + res.millis() + " " + res.errors());
        }
    }
}
