package dev.stethoscope.plugin;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The address option is honoured: checked on the listening socket in the
 * kernel's tables, without sending any traffic.
 */
class BindAddressTest {
    @Test
    void wildcardAddressWhenAskedFor() throws Exception {
        try (StethoscopeUIServer s = StethoscopeUIServer.start("0.0.0.0", 0)) {
            List<String> addrs = UiServerTest.listeningAddresses(s.port());
            assertThat(addrs).isNotEmpty();
            assertThat(addrs).allSatisfy(a -> assertThat(a).isIn("00000000", "00000000000000000000000000000000"));
            assertThat(s.url()).isEqualTo("http://localhost:" + s.port() + "/stethoscope");
        }
    }

    @Test
    void loopbackByDefaultConstant() {
        assertThat(StethoscopeUIServer.DEFAULT_BIND).isEqualTo("127.0.0.1");
    }
}
