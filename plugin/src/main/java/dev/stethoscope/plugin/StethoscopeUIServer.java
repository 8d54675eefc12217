package dev.stethoscope.plugin;

import io.vertx.core.Context;
import io.vertx.core.Vertx;
import io.vertx.core.http.HttpServer;
import org.deeplearning4j.core.storage.StatsStorage;
import org.deeplearning4j.ui.VertxUIServer;
import org.deeplearning4j.ui.api.UIServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.net.BindException;
import java.util.LinkedHashSet;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.BooleanSupplier;

/**
 * DL4J's UI server (its own pages and every UI module, Stethoscope's included)
 * listening on a chosen address, by default the loopback address only.
 *
 * <p>DL4J's {@link VertxUIServer} always listens on all interfaces and has no
 * setting for the address. This class runs that same server (its routes,
 * modules, storage routing and remote receiver are DL4J's) with one change: the
 * HTTP server it creates is told to listen on the chosen address and port. It
 * does so by handing the verticle a view of its Vert.x instance whose
 * {@code createHttpServer()} returns a server whose {@code listen(...)} uses
 * the chosen address and port; everything else goes to Vert.x unchanged.
 *
 * <p>Once started, {@link UIServer#getInstance()} returns this server, so code
 * written for DL4J's UI (attach, enableRemoteListener) works as usual. One
 * server per JVM, as with DL4J.
 */
public final class StethoscopeUIServer implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(StethoscopeUIServer.class);
    /** The default address: loopback only. */
    public static final String DEFAULT_BIND = "127.0.0.1";
    /** DL4J's default port. */
    public static final int DEFAULT_PORT = 9000;

    private final BoundVertxUIServer server;
    private final String bindAddress;

    private StethoscopeUIServer(BoundVertxUIServer server, String bindAddress) {
        this.server = server;
        this.bindAddress = bindAddress;
    }

    /**
     * Starts the UI on {@code bindAddress}:{@code port} (port 0 picks a free port).
     *
     * @throws PortInUseException if the port is taken
     * @throws IllegalStateException if a DL4J UI server is already running in this JVM
     */
    public static synchronized StethoscopeUIServer start(String bindAddress, int port) {
        VertxUIServer existing = VertxUIServer.getInstance();
        if (existing != null && !existing.isStopped()) {
            throw new IllegalStateException("A DL4J UI server is already running in this JVM at "
                    + existing.getAddress() + "; stop it first (UIServer.stopInstance())");
        }
        Vertx vertx = Vertx.vertx();
        BoundVertxUIServer verticle = new BoundVertxUIServer(bindAddress, port);
        CompletableFuture<String> deployed = new CompletableFuture<>();
        vertx.deployVerticle(verticle, ar -> {
            if (ar.succeeded()) {
                deployed.complete(ar.result());
            } else {
                deployed.completeExceptionally(ar.cause());
            }
        });
        try {
            deployed.get(60, TimeUnit.SECONDS);
        } catch (ExecutionException | TimeoutException | InterruptedException e) {
            Throwable cause = e instanceof ExecutionException ? e.getCause() : e;
            try {
                VertxUIServer.stopInstance();
            } catch (Exception stopFailure) {
                log.debug("Stopping the failed UI server", stopFailure);
            }
            vertx.close();
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            if (hasCause(cause, BindException.class)) {
                throw new PortInUseException(bindAddress, port, cause);
            }
            throw new IllegalStateException("The DL4J UI server failed to start on " + bindAddress + ":" + port
                    + ": " + cause, cause);
        }
        StethoscopeUIServer s = new StethoscopeUIServer(verticle, bindAddress);
        warnIfExposed(bindAddress, s.port());
        log.info("DL4J UI with Stethoscope at {} (listening on {}:{})", s.url(), bindAddress, s.port());
        return s;
    }

    /** Whether {@code bindAddress} is a loopback name or address (no DNS lookup for other names: they count as exposed). */
    static boolean isLoopback(String bindAddress) {
        String b = bindAddress.trim().toLowerCase(java.util.Locale.ROOT);
        if (b.startsWith("[") && b.endsWith("]")) {
            b = b.substring(1, b.length() - 1);
        }
        if (b.equals("localhost")) {
            return true;
        }
        java.net.InetAddress ip = WebGuard.literal(b);
        return ip != null && ip.isLoopbackAddress();
    }

    private static void warnIfExposed(String bindAddress, int port) {
        String w = exposureWarning(bindAddress, port);
        if (w != null) {
            log.warn(w);
        }
    }

    /** The warning printed when the UI listens on a non-loopback address, or null for loopback. */
    static String exposureWarning(String bindAddress, int port) {
        if (isLoopback(bindAddress)) {
            return null;
        }
        return org.slf4j.helpers.MessageFormatter.arrayFormat("The DL4J UI (Stethoscope's pages and DL4J's own) listens on {}:{}, which is NOT loopback-only: "
                + "anyone who can reach this address on the network can read every attached training run "
                + "(metrics, layer names, raw training images, error stack traces) and store suspect marks, "
                + "without a password (requests must still name this address in Host). "
                + "To keep it on this machine, bind to 127.0.0.1 (--bind 127.0.0.1, the default) "
                + "and use an SSH tunnel (ssh -L {}:127.0.0.1:{} host) to view it from elsewhere.",
                new Object[]{bindAddress, port, port, port}).getMessage();
    }

    private static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c) || (c.getMessage() != null && c.getMessage().contains("Address already in use"))) {
                return true;
            }
        }
        return false;
    }

    /** The port the server listens on. */
    public int port() {
        return server.getPort();
    }

    /** The address the server listens on. */
    public String bindAddress() {
        return bindAddress;
    }

    /** The Stethoscope page's URL. */
    public String url() {
        String host = bindAddress.equals("0.0.0.0") || bindAddress.equals("::") ? "localhost" : bindAddress;
        if (host.contains(":")) {
            host = "[" + host + "]";
        }
        return "http://" + host + ":" + port() + "/stethoscope";
    }

    /** DL4J's UI server interface (attach, detach, remote listener). */
    public UIServer ui() {
        return server;
    }

    /** Attaches a storage to the UI (DL4J's pages and Stethoscope's). */
    public StethoscopeUIServer attach(StatsStorage storage) {
        server.attach(storage);
        return this;
    }

    /** Stops the server. */
    @Override
    public void close() {
        try {
            VertxUIServer.stopInstance();
        } catch (Exception e) {
            log.warn("Stopping the UI server failed", e);
        }
    }

    /** The port requested is taken. */
    public static final class PortInUseException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        PortInUseException(String address, int port, Throwable cause) {
            super("Port " + port + " on " + address + " is already in use. Choose another port with --port "
                    + "(or stop the program using it).", cause);
        }
    }

    /** DL4J's UI verticle, given a Vert.x view that makes its HTTP server listen where we say. */
    static final class BoundVertxUIServer extends VertxUIServer {
        private final String host;
        private final int port;

        BoundVertxUIServer(String host, int port) {
            this.host = host;
            this.port = port;
        }

        @Override
        public void init(Vertx vertx, Context context) {
            super.init(bindingView(vertx, host, port, () -> {
                try {
                    return isRemoteListenerEnabled();
                } catch (RuntimeException notStartedYet) {
                    return false;
                }
            }), context);
        }
    }

    static Vertx bindingView(Vertx real, String host, int port, BooleanSupplier remoteEnabled) {
        InvocationHandler h = (proxy, method, args) -> {
            Object result = invoke(real, method, args);
            if (method.getName().equals("createHttpServer") && result instanceof HttpServer hs) {
                return bindingServer(hs, host, port, remoteEnabled);
            }
            return result == real ? proxy : result;
        };
        return (Vertx) Proxy.newProxyInstance(StethoscopeUIServer.class.getClassLoader(),
                allInterfaces(real.getClass()), h);
    }

    private static HttpServer bindingServer(HttpServer real, String host, int port, BooleanSupplier remoteEnabled) {
        InvocationHandler h = new InvocationHandler() {
            @Override
            @SuppressWarnings("unchecked")
            public Object invoke(Object proxy, Method method, Object[] args) throws Throwable {
                if (method.getName().equals("requestHandler") && args != null && args.length == 1
                        && args[0] instanceof io.vertx.core.Handler<?> router) {
                    // Every request passes the guard before DL4J's router (and its body handler) sees it.
                    real.requestHandler(new WebGuard((io.vertx.core.Handler<io.vertx.core.http.HttpServerRequest>) router,
                            host, real::actualPort, remoteEnabled));
                    return proxy;
                }
                if (method.getName().equals("listen")) {
                    Class<?>[] types = method.getParameterTypes();
                    io.vertx.core.Handler<?> handler = null;
                    if (types.length > 0 && types[types.length - 1] == io.vertx.core.Handler.class) {
                        handler = (io.vertx.core.Handler<?>) args[args.length - 1];
                    }
                    @SuppressWarnings("unchecked")
                    io.vertx.core.Handler<io.vertx.core.AsyncResult<HttpServer>> cb =
                            (io.vertx.core.Handler<io.vertx.core.AsyncResult<HttpServer>>) handler;
                    HttpServer r = cb == null ? real.listen(port, host) : real.listen(port, host, cb);
                    return r == real ? proxy : r;
                }
                Object result = StethoscopeUIServer.invoke(real, method, args);
                return result == real ? proxy : result;
            }
        };
        return (HttpServer) Proxy.newProxyInstance(StethoscopeUIServer.class.getClassLoader(),
                allInterfaces(real.getClass()), h);
    }

    private static Object invoke(Object target, Method m, Object[] args) throws Throwable {
        try {
            return m.invoke(target, args);
        } catch (InvocationTargetException e) {
            throw e.getCause();
        }
    }

    private static Class<?>[] allInterfaces(Class<?> c) {
        Set<Class<?>> out = new LinkedHashSet<>();
        for (Class<?> k = c; k != null; k = k.getSuperclass()) {
            for (Class<?> i : k.getInterfaces()) {
                if (java.lang.reflect.Modifier.isPublic(i.getModifiers())) {
                    out.add(i);
                }
            }
        }
        return out.toArray(new Class<?>[0]);
    }
}
