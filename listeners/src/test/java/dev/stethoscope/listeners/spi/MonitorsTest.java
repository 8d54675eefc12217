package dev.stethoscope.listeners.spi;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** The monitor-type registry: order, and the clashes it refuses with a message naming both classes. */
class MonitorsTest {
    record A(int x) {
    }

    record B(int y) {
    }

    static MonitorType type(String id, int order, String... typeIds) {
        return new MonitorType() {
            @Override
            public String id() {
                return id;
            }

            @Override
            public String title() {
                return id.toUpperCase();
            }

            @Override
            public List<RecordType<?>> recordTypes() {
                return java.util.Arrays.stream(typeIds).<RecordType<?>>map(t -> RecordType.of(t, A.class)).toList();
            }

            @Override
            public int order() {
                return order;
            }
        };
    }

    @Test
    void ordersByOrderThenId() {
        List<MonitorType> l = Monitors.load(List.of(type("zeta", 5, "Z"), type("beta", 10, "B"), type("alpha", 10, "A")));
        assertThat(l).extracting(MonitorType::id).containsExactly("zeta", "alpha", "beta");
    }

    @Test
    void refusesDuplicateIdsAndTypeIds() {
        assertThatThrownBy(() -> Monitors.load(List.of(type("one", 1, "T1"), type("one", 2, "T2"))))
                .hasMessageContaining("Two monitor types have id 'one'");
        assertThatThrownBy(() -> Monitors.load(List.of(type("one", 1, "T"), type("two", 2, "T"))))
                .hasMessageContaining("Record type id 'T' is declared by both");
    }

    @Test
    void refusesBadIdsAndMonitorsWithoutRecords() {
        assertThatThrownBy(() -> Monitors.load(List.of(type("Bad Id", 1, "T")))).hasMessageContaining("lower-case");
        assertThatThrownBy(() -> Monitors.load(List.of(type("empty", 1)))).hasMessageContaining("declares no record type");
        assertThatThrownBy(() -> RecordType.of(" ", B.class)).hasMessageContaining("blank");
    }
}
