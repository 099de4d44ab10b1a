// java.net.http.HttpClient (Java 17) through the proxy: one request per case, each on a
// new HttpClient (a fresh connection). args: CASES.json CA.pem. Run with
// -Djdk.net.hosts.file=F so the *.test names resolve (Java 17 has no resolver hook).
// http:// cases use HTTP/1.1 (the default HTTP_2 would send an h2c Upgrade); https://
// cases keep the default: ALPN h2, then http/1.1. Prints {id: {status, body_len, error, message, version}}.
import java.io.FileInputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

public class JavaHttpClient {
    static String q(String s) {
        if (s == null) return "null";
        StringBuilder b = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }

    // Before the first case of each scheme and protocol, one unfaulted request (to /warmup, which
    // no case's records match) loads and compiles the JVM's TLS and HTTP/2 code: on a loaded
    // machine a cold JVM once spent the first case's whole 2 s timeout connecting.
    static void warmUp(SSLContext ctx, String url, java.util.Set<String> warmed) {
        URI u = URI.create(url);
        String key = u.getScheme() + (u.getHost().contains("-tls-") ? "-tls" : "");
        if (key.endsWith("-tls") || !warmed.add(key)) return;  // tls cases' hosts carry their fault
        HttpClient client = HttpClient.newBuilder().sslContext(ctx)  // its own: the case gets a fresh connection
            .version(url.startsWith("https") ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1).build();
        try {
            client.send(HttpRequest.newBuilder(URI.create(u.getScheme() + "://" + u.getHost() + ":" + u.getPort() + "/warmup"))
                .timeout(Duration.ofSeconds(20)).build(), HttpResponse.BodyHandlers.discarding());
        } catch (Exception e) {
            // the case itself reports what goes wrong
        }
    }

    public static void main(String[] args) throws Exception {
        KeyStore ks = KeyStore.getInstance("PKCS12");
        ks.load(null, null);
        try (FileInputStream in = new FileInputStream(args[1])) {
            ks.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(in));
        }
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(ks);
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, tmf.getTrustManagers(), null);
        // cases: a flat JSON list written by the test; these fields first, in this order (others may follow)
        String json = Files.readString(Path.of(args[0]));
        Matcher m = Pattern.compile("\\{\"id\": \"([^\"]*)\", \"url\": \"([^\"]*)\", \"fault\": (null|\"((?:[^\"\\\\]|\\\\.)*)\"), \"timeout_ms\": (\\d+)[^{}]*\\}").matcher(json);
        StringBuilder out = new StringBuilder("{");
        java.util.Set<String> warmed = new java.util.HashSet<>();
        while (m.find()) {
            String id = m.group(1), url = m.group(2), fault = m.group(4);
            long timeout = Long.parseLong(m.group(5));
            String status = "null", len = "null", error = "ok", message = "", version = "null";
            HttpClient client = HttpClient.newBuilder().sslContext(ctx)
                .version(url.startsWith("https") ? HttpClient.Version.HTTP_2 : HttpClient.Version.HTTP_1_1).build();
            warmUp(ctx, url, warmed);
            HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMillis(timeout));
            if (fault != null) rb.header("x-fault", fault.replace("\\\"", "\""));
            try {
                HttpResponse<byte[]> r = client.send(rb.build(), HttpResponse.BodyHandlers.ofByteArray());
                status = "" + r.statusCode();
                len = "" + r.body().length;
                version = q(r.version().toString());
            } catch (Exception e) {
                error = e.getClass().getSimpleName();
                message = String.valueOf(e.getMessage());
                if (e.getCause() != null) message += " (cause: " + e.getCause().getClass().getSimpleName() + ": " + e.getCause().getMessage() + ")";
            }
            if (out.length() > 1) out.append(',');
            out.append(q(id)).append(":{\"status\":").append(status).append(",\"body_len\":").append(len)
               .append(",\"error\":").append(q(error)).append(",\"message\":").append(q(message))
               .append(",\"version\":").append(version).append('}');
        }
        System.out.print(out.append('}'));
        System.exit(0);  // the HttpClient's selector threads would keep a hung request's JVM alive
    }
}
