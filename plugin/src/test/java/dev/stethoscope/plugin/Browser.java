package dev.stethoscope.plugin;

import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Headless Debian Chromium driven by Debian's chromedriver (both installed by
 * .ci/run). Uses the system binaries explicitly, so Selenium never tries to
 * download a browser or driver.
 */
public final class Browser {
    public static final String CHROMIUM = System.getProperty("stethoscope.chromium", "/usr/bin/chromium");
    public static final String CHROMEDRIVER = System.getProperty("stethoscope.chromedriver", "/usr/bin/chromedriver");

    private Browser() {
    }

    /** Whether the browser and driver binaries are installed. */
    public static boolean available() {
        return new File(CHROMIUM).canExecute() && new File(CHROMEDRIVER).canExecute();
    }

    /**
     * Starts a headless browser with a fresh profile, keeping the page's console messages for
     * {@code manage().logs().get(LogType.BROWSER)}; quit it when done.
     */
    public static ChromeDriver start() throws Exception {
        if (!available()) {
            throw new IllegalStateException("UI tests need Debian's chromium and chromium-driver ("
                    + CHROMIUM + ", " + CHROMEDRIVER + "): apt-get install chromium chromium-driver");
        }
        Path profile = Files.createTempDirectory("stethoscope-chrome");
        ChromeOptions o = new ChromeOptions();
        o.setBinary(CHROMIUM);
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1400,1000",
                "--user-data-dir=" + profile);
        o.setCapability("goog:loggingPrefs", java.util.Map.of("browser", "ALL"));
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(new File(CHROMEDRIVER))
                .usingAnyFreePort()
                .build();
        ChromeDriver d = new ChromeDriver(service, o);
        d.manage().timeouts().scriptTimeout(Duration.ofSeconds(20));
        return d;
    }
}
