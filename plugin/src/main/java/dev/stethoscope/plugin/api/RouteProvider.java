package dev.stethoscope.plugin.api;

import dev.stethoscope.plugin.StorageAccess;
import org.deeplearning4j.ui.api.Route;

import java.util.List;

/**
 * Extra routes of a Stethoscope page (for example a POST that stores a user's
 * decision), found through {@link java.util.ServiceLoader}: list the
 * implementation in {@code META-INF/services/dev.stethoscope.plugin.api.RouteProvider}.
 * Paths should start with {@code /stethoscope/api/}. Implementations need a
 * public no-argument constructor without side effects.
 */
public interface RouteProvider {
    /** The routes, reading and writing records through {@code storage}. */
    List<Route> routes(StorageAccess storage);
}
