package dev.stethoscope.plugin;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP/1.1 over a plain socket, for requests java.net.http will not send
 * (a foreign Host, no Host, a ".." path, a body that lies about its length).
 */
final class RawHttp {
    private RawHttp() {
    }

    /** A parsed response; status -1 if the server closed without answering. */
    record Response(int status, Map<String, String> headers, String body, long millis) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }
    }

    /**
     * Sends {@code head} (request line and headers, without the final blank
     * line; "Connection: close" is added) and {@code body}, reads the whole
     * answer.
     *
     * @throws SocketTimeoutException if no complete answer came within {@code timeoutMs}
     */
    static Response send(int port, String head, byte[] body, int timeoutMs) throws IOException {
        long t0 = System.nanoTime();
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(timeoutMs);
            OutputStream out = s.getOutputStream();
            out.write((head + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) {
                out.write(body);
            }
            out.flush();
            byte[] all = s.getInputStream().readAllBytes();
            return parse(all, (System.nanoTime() - t0) / 1_000_000);
        }
    }

    /** A GET of {@code path} with the given Host header (none if null). */
    static Response get(int port, String path, String host) throws IOException {
        return send(port, "GET " + path + " HTTP/1.1" + (host == null ? "" : "\r\nHost: " + host), null, 5000);
    }

    static Response parse(byte[] all, long millis) {
        String text = new String(all, StandardCharsets.ISO_8859_1);
        int end = text.indexOf("\r\n\r\n");
        if (end < 0) {
            return new Response(-1, Map.of(), text, millis);
        }
        String[] lines = text.substring(0, end).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int c = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, c).trim().toLowerCase(Locale.ROOT), lines[i].substring(c + 1).trim());
        }
        return new Response(status, headers, new String(all, end + 4, all.length - end - 4, StandardCharsets.UTF_8), millis);
    }

    /** What happened to a large upload. */
    record Upload(Response response, long bytesSent) {
    }

    /**
     * Announces {@code declaredLength} bytes (or chunked when negative) and
     * streams zeros until the server closes the connection or all are sent,
     * reading the answer on another thread meanwhile.
     */
    static Upload upload(int port, String path, String contentType, long declaredLength, long bytesToSend)
            throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(30_000);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            Thread reader = new Thread(() -> {
                try {
                    InputStream in = s.getInputStream();
                    byte[] b = new byte[8192];
                    for (int n; (n = in.read(b)) > 0; ) {
                        synchronized (got) {
                            got.write(b, 0, n);
                        }
                    }
                } catch (IOException e) {
                    // reset after the answer: expected
                }
            });
            reader.start();
            OutputStream out = s.getOutputStream();
            String head = "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\nContent-Type: " + contentType
                    + (declaredLength >= 0 ? "\r\nContent-Length: " + declaredLength : "\r\nTransfer-Encoding: chunked")
                    + "\r\n\r\n";
            out.write(head.getBytes(StandardCharsets.ISO_8859_1));
            byte[] chunk = new byte[1 << 20];
            long sent = 0;
            try {
                while (sent < bytesToSend) {
                    if (declaredLength < 0) {
                        out.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                        out.write(chunk);
                        out.write("\r\n".getBytes(StandardCharsets.ISO_8859_1));
                    } else {
                        out.write(chunk);
                    }
                    sent += chunk.length;
                }
                out.flush();
            } catch (IOException closedByServer) {
                // the server refused and closed: what we wanted
            }
            reader.join(30_000);
            byte[] all;
            synchronized (got) {
                all = got.toByteArray();
            }
            return new Upload(parse(all, 0), sent);
        }
    }
}
