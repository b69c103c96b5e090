// Serves one JWKS document for the brokers' OIDC listener (scripts/kafka/security-extra.sh):
//   java JwksServer.java PORT FILE
// The JDK's built-in HTTP server on 127.0.0.1, run as a single-file source program. Every path
// answers with FILE as application/json; the process runs until it is sent SIGTERM.

import com.sun.net.httpserver.HttpServer;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;

public class JwksServer {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Path file = Path.of(args[1]);
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 16);
        server.createContext("/", exchange -> {
            byte[] body = Files.readAllBytes(file);
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            exchange.sendResponseHeaders(200, body.length);
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(body);
            }
        });
        server.start();
        System.out.println("JWKS on http://127.0.0.1:" + port + "/ from " + file);
    }
}
