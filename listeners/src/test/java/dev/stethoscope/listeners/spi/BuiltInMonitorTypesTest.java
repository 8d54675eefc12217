package dev.stethoscope.listeners.spi;

import dev.stethoscope.listeners.records.PayloadCodec;
import dev.stethoscope.listeners.records.RecordTypes;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** The eight built-in monitor types, found by ServiceLoader, as the page's navigation shows them. */
class BuiltInMonitorTypesTest {

    @Test
    void builtInTypesLoadInNavigationOrderWithTheirPanels() {
        List<MonitorType> all = Monitors.all();
        assertThat(all).extracting(MonitorType::id)
                .containsExactly("health", "features", "probes", "similarity", "memorization", "suspects", "attribution", "assertions", "errors");
        assertThat(all).extracting(MonitorType::title).containsExactly("Layer health", "Feature evolution", "Linear probes",
                "Layer similarity (SVCCA)", "Memorisation", "Suspects", "Attributions", "Assertions", "Monitor errors");
        assertThat(all).extracting(MonitorType::order).containsExactly(10, 15, 20, 30, 40, 50, 60, 65, 70);
        for (MonitorType m : all) {
            assertThat(m.panelScript()).isEqualTo("stethoscope/static/panel-" + m.id() + ".js");
        }
    }

    @Test
    void everyRecordTypeIsAStethoscopeIdWithACodecablePayload() {
        assertThat(RecordTypes.typeIds()).hasSize(14).allSatisfy(id -> assertThat(id).startsWith("Stethoscope."));
        for (RecordType<?> t : Monitors.recordTypes().values()) {
            assertThat(PayloadCodec.componentNames(t.payload())).as(t.typeId()).isNotEmpty();
        }
    }
}
