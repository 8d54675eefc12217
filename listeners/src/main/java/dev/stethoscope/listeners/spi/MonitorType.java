package dev.stethoscope.listeners.spi;

import java.util.List;

/**
 * A kind of monitor, as the rest of Stethoscope sees it: its id, the records it publishes and
 * the page script that shows them. Implementations are found with {@link java.util.ServiceLoader}
 * (list the class in {@code META-INF/services/dev.stethoscope.listeners.spi.MonitorType}), so a
 * monitor in a third-party jar on the classpath adds its records and its panel without touching
 * any registry. {@link Monitors} holds the loaded list.
 *
 * <p>A monitor type that needs its own HTTP routes (for example to store a user's decision) also
 * implements the UI plugin's {@code dev.stethoscope.plugin.api.RouteProvider}; the plugin adds
 * the routes of every loaded monitor type that does.
 *
 * <p>Implementations need a public no-argument constructor without side effects.
 */
public interface MonitorType {
    /** A short, unique, URL-safe id, for example {@code "health"} ([a-z0-9-]+). */
    String id();

    /** The panel's title in the page's navigation, for example {@code "Health"}. */
    String title();

    /** The records this monitor publishes (at least one), each with a unique type id. */
    List<RecordType<?>> recordTypes();

    /**
     * Classpath resource of the panel script (plain JavaScript that calls
     * {@code Stethoscope.registerPanel}), for example {@code "stethoscope/static/panel-health.js"};
     * null for a monitor without a panel of its own.
     */
    default String panelScript() {
        return null;
    }

    /** Position in the navigation: lower first; built-in monitors use 10, 20, ... 90. Default 500. */
    default int order() {
        return 500;
    }
}
