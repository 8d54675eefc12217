package dev.stethoscope.listeners.core;

import org.deeplearning4j.nn.api.Model;

import java.util.Collections;
import java.util.Map;
import java.util.UUID;
import java.util.WeakHashMap;

/**
 * Default session ids: every Stethoscope listener built for the same model
 * instance shares one random session id, so their records form one session.
 */
public final class Sessions {
    private static final Map<Model, String> IDS = Collections.synchronizedMap(new WeakHashMap<>());

    private Sessions() {
    }

    /** The session id for {@code model}, created on first use. */
    public static String idFor(Model model) {
        return IDS.computeIfAbsent(model, m -> "stethoscope-" + UUID.randomUUID());
    }

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();

    /**
     * A new session id: {@code stem} followed by {@code -} and 12 random hex
     * digits, so a session id cannot be guessed from the run's name or start
     * time (the UI's URLs contain it).
     */
    public static String newId(String stem) {
        return stem + "-" + String.format("%012x", RANDOM.nextLong() & 0xffffffffffffL);
    }

    /** Makes {@code model}'s listeners use {@code sessionId} (call before building them). */
    public static void assign(Model model, String sessionId) {
        IDS.put(model, sessionId);
    }
}
