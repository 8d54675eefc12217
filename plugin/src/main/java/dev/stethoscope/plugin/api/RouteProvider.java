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
 *
 * <p>Rules for routes (docs/security.md): read request parameters on the event
 * loop, then do storage reads and writes in
 * {@link dev.stethoscope.plugin.StethoscopeModule#blocking} (ordered for
 * writes); cap lists with {@link dev.stethoscope.plugin.StethoscopeModule#limitOrAnswer}
 * and mark cut lists with {@code Reply.truncated}; a state-changing route should
 * refuse with 403 when {@link dev.stethoscope.plugin.WebGuard#stateChangeProblem}
 * reports a problem (the guard checks it too, but not under DL4J's stock server);
 * the page's scripts post with {@code api.post(url)}, which sends
 * {@value dev.stethoscope.plugin.WebGuard#CSRF_HEADER}.
 */
public interface RouteProvider {
    /** The routes, reading and writing records through {@code storage}. */
    List<Route> routes(StorageAccess storage);
}
