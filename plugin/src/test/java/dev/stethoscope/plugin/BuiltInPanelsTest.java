package dev.stethoscope.plugin;

import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.Monitors;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Every built-in monitor type names a panel script this plugin ships, registering a panel with the
 * monitor's id and reading its record type ids from the monitor type (none typed in the script).
 */
class BuiltInPanelsTest {

    @Test
    void everyMonitorsPanelScriptIsOnTheClasspathWithItsIdAndNoTypedTypeIds() throws Exception {
        var builtIn = Monitors.all().stream()
                .filter(m -> m.getClass().getName().startsWith("dev.stethoscope.listeners.")).toList();
        assertThat(builtIn).hasSize(9);
        for (MonitorType m : builtIn) {
            try (InputStream in = getClass().getClassLoader().getResourceAsStream(m.panelScript())) {
                assertThat(in).as(m.panelScript()).isNotNull();
                String js = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertThat(js).as(m.id()).contains("id: '" + m.id() + "'").doesNotContain("'Stethoscope.");
            }
        }
    }
}
