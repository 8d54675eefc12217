package dev.stethoscope.plugin;

import dev.stethoscope.listeners.spi.MonitorType;
import dev.stethoscope.listeners.spi.Monitors;
import org.junit.jupiter.api.Test;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;

import static org.assertj.core.api.Assertions.assertThat;

/** Every built-in monitor type names a panel script this plugin ships, with the same id and title. */
class BuiltInPanelsTest {

    @Test
    void everyMonitorsPanelScriptIsOnTheClasspathWithItsIdAndTitle() throws Exception {
        assertThat(Monitors.all()).hasSize(7);
        for (MonitorType m : Monitors.all()) {
            try (InputStream in = getClass().getClassLoader().getResourceAsStream(m.panelScript())) {
                assertThat(in).as(m.panelScript()).isNotNull();
                String js = new String(in.readAllBytes(), StandardCharsets.UTF_8);
                assertThat(js).as(m.id()).contains("id: '" + m.id() + "'").contains("title: '" + m.title() + "'");
            }
        }
    }
}
