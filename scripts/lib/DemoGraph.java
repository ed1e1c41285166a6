// The Neo4j side of scripts/demo: clears the demo tenant's data, waits until the emulator's history is in
// Neo4j (comparing trace ids with the emulator's ground truth), and counts the demo's nodes and
// relationships. It uses the Neo4j Java driver that the local Neo4j build already holds
// (tools/neo4j-local/target/lib), so the demo needs no other download.
//
// Connection: NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD and optionally NEO4J_DATABASE, as for neo4j-sink.
// Exit codes: 0 done, 1 Neo4j or the emulator failed, 2 usage, 3 timed out waiting.
//
//   DemoGraph clear   <domainId> <projectId,...>
//   DemoGraph wait    <emulatorUrl> <projectId,...> <timeoutSecs> <intervalSecs> [<exporterMetricsUrl>]
//   DemoGraph summary <domainId> <projectId,...>

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.neo4j.driver.AuthTokens;
import org.neo4j.driver.Config;
import org.neo4j.driver.Driver;
import org.neo4j.driver.GraphDatabase;
import org.neo4j.driver.Logging;
import org.neo4j.driver.Record;
import org.neo4j.driver.Session;
import org.neo4j.driver.SessionConfig;

public final class DemoGraph {
    private static final int EXIT_FAILED = 1;
    private static final int EXIT_USAGE = 2;
    private static final int EXIT_TIMEOUT = 3;
    private static final int CHUNK = 10_000;
    private static final HttpClient HTTP =
            HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

    private DemoGraph() {}

    public static void main(String[] args) {
        int code;
        try {
            code = run(args);
        } catch (UsageException e) {
            System.err.println("DemoGraph: " + e.getMessage());
            code = EXIT_USAGE;
        } catch (Exception e) {
            System.err.println("DemoGraph: " + e.getMessage());
            code = EXIT_FAILED;
        }
        System.exit(code);
    }

    private static int run(String[] args) throws Exception {
        if (args.length == 0) {
            throw new UsageException("expected a command: clear, wait or summary");
        }
        String uri = env("NEO4J_URI", "neo4j://127.0.0.1:7687");
        String user = env("NEO4J_USER", "neo4j");
        String password = System.getenv("NEO4J_PASSWORD");
        if (password == null || password.isEmpty()) {
            throw new UsageException("NEO4J_PASSWORD is not set; run: eval \"$(scripts/neo4j-local env)\"");
        }
        String database = env("NEO4J_DATABASE", "");
        Config config = Config.builder()
                .withLogging(Logging.none())
                .withConnectionTimeout(10, java.util.concurrent.TimeUnit.SECONDS)
                .build();
        try (Driver driver = GraphDatabase.driver(uri, AuthTokens.basic(user, password), config)) {
            try {
                driver.verifyConnectivity();
            } catch (Exception e) {
                throw new Exception("Neo4j at " + uri + " (user " + user + ") is not usable: " + e.getMessage()
                        + "; check that scripts/neo4j-local status says ready");
            }
            SessionConfig sessions = database.isEmpty()
                    ? SessionConfig.defaultConfig()
                    : SessionConfig.forDatabase(database);
            switch (args[0]) {
                case "clear":
                    need(args, 3, "clear <domainId> <projectId,...>");
                    return clear(driver, sessions, args[1], projects(args[2]));
                case "wait":
                    need(args, 5, "wait <emulatorUrl> <projectId,...> <timeoutSecs> <intervalSecs> [<metricsUrl>]");
                    return await(driver, sessions, args[1], projects(args[2]), number(args[3], "timeoutSecs"),
                            number(args[4], "intervalSecs"), args.length > 5 ? args[5] : null);
                case "summary":
                    need(args, 3, "summary <domainId> <projectId,...>");
                    return summary(driver, sessions, args[1], projects(args[2]));
                default:
                    throw new UsageException("unknown command \"" + args[0] + "\"; expected clear, wait or summary");
            }
        }
    }

    /** Deletes everything the demo tenant wrote: its actions, resources, tenants, users and domain, and the demo detector's findings. */
    private static int clear(Driver driver, SessionConfig sessions, String domainId, List<String> projects) {
        Map<String, Object> p = Map.of("projects", projects, "domain", domainId);
        long started = System.nanoTime();
        long actions;
        try (Session s = driver.session(sessions)) {
            actions = s.run("MATCH (a:Action) WHERE a.projectId IN $projects RETURN count(a) AS n", p)
                    .single().get("n").asLong();
            // Auto-commit transactions: CALL { } IN TRANSACTIONS needs them, and keeps each batch small.
            s.run("MATCH (a:Action) WHERE a.projectId IN $projects "
                    + "CALL (a) { DETACH DELETE a } IN TRANSACTIONS OF 5000 ROWS", p).consume();
            s.run("MATCH (r:Resource) WHERE r.projectId IN $projects "
                    + "CALL (r) { DETACH DELETE r } IN TRANSACTIONS OF 5000 ROWS", p).consume();
            s.run("MATCH (t:Tenant) WHERE t.projectId IN $projects DETACH DELETE t", p).consume();
            s.run("MATCH (u:User) WHERE u.domainId = $domain OR u.key STARTS WITH $domain + '/' "
                    + "CALL (u) { DETACH DELETE u } IN TRANSACTIONS OF 5000 ROWS", p).consume();
            s.run("MATCH (d:Domain {id: $domain}) DETACH DELETE d", p).consume();
            // The demo detector's findings and position (scripts/demo, docs/detections.md).
            s.run("MATCH (n) WHERE (n:Finding AND n.detector = 'demo') OR (n:Detector AND n.name = 'demo') "
                    + "DETACH DELETE n").consume();
        }
        System.out.printf("removed the previous demo data: %d actions and their users, resources and tenants (%.1f s)%n",
                actions, (System.nanoTime() - started) / 1e9);
        return 0;
    }

    /** Waits until every trace the emulator shows now is an Action in Neo4j, printing progress. */
    private static int await(Driver driver, SessionConfig sessions, String emulator, List<String> projects,
            long timeoutSecs, long intervalSecs, String metricsUrl) throws Exception {
        Set<String> missing = new HashSet<>();
        List<String> perProject = new ArrayList<>();
        for (String project : projects) {
            List<String> ids = truth(emulator, project);
            missing.addAll(ids);
            perProject.add(project + ": " + ids.size());
        }
        int total = missing.size();
        System.out.printf("the emulator shows %d traces (%s); waiting until each is an Action in Neo4j%n",
                total, String.join(", ", perProject));
        long start = System.nanoTime();
        long deadline = start + timeoutSecs * 1_000_000_000L;
        long lastLoaded = 0;
        long lastAt = start;
        while (true) {
            try (Session s = driver.session(sessions)) {
                List<String> pending = new ArrayList<>(missing);
                for (int i = 0; i < pending.size(); i += CHUNK) {
                    List<String> chunk = pending.subList(i, Math.min(pending.size(), i + CHUNK));
                    for (Record r : s.run("UNWIND $ids AS id MATCH (a:Action {traceId: id}) RETURN a.traceId AS id",
                            Map.of("ids", chunk)).list()) {
                        missing.remove(r.get("id").asString());
                    }
                }
            } catch (RuntimeException e) {
                // A busy or restarting Neo4j: say so and ask again at the next interval, until the deadline.
                System.out.printf("  Neo4j did not answer the count (%s); asking again%n", e.getMessage());
            }
            long present = total - missing.size();
            Long acked = metricsUrl == null ? null : acknowledged(metricsUrl);
            // Counted as loaded in this run only once the exporter has delivered it too: with --keep-data the
            // ids of an earlier run are already there.
            long loaded = acked == null ? present : Math.min(present, acked);
            long now = System.nanoTime();
            double elapsed = (now - start) / 1e9;
            double rate = (loaded - lastLoaded) / Math.max(0.001, (now - lastAt) / 1e9);
            if (loaded >= total) {
                System.out.printf("history loaded: %d of %d traces are Actions in Neo4j after %.1f s (%.0f traces/s on average)%n",
                        total, total, elapsed, total / Math.max(0.001, elapsed));
                return 0;
            }
            System.out.printf("  loaded %d of %d (%d%%), %.0f traces/s, %.0f s%s%n", loaded, total,
                    loaded * 100 / Math.max(1, total), rate, elapsed,
                    acked == null ? "" : " (exporter acknowledged " + acked + ")");
            if (now > deadline) {
                String example = missing.isEmpty() ? "" : ", e.g. trace " + missing.iterator().next();
                System.out.printf("gave up after %d s: %d of %d traces are not in Neo4j yet%s%n",
                        timeoutSecs, total - loaded, total, example);
                return EXIT_TIMEOUT;
            }
            lastLoaded = loaded;
            lastAt = now;
            Thread.sleep(intervalSecs * 1000);
        }
    }

    /** Prints the demo's nodes by label and relationships by type. */
    private static int summary(Driver driver, SessionConfig sessions, String domainId, List<String> projects) {
        Map<String, Object> p = Map.of("projects", projects, "domain", domainId);
        Map<String, Long> nodes = new LinkedHashMap<>();
        Map<String, Long> rels = new LinkedHashMap<>();
        try (Session s = driver.session(sessions)) {
            nodes.put("Action", s.run("MATCH (a:Action) WHERE a.projectId IN $projects RETURN count(a) AS n", p)
                    .single().get("n").asLong());
            for (Record r : s.run("MATCH (a:Action)-->(n) WHERE a.projectId IN $projects WITH DISTINCT n "
                    + "RETURN labels(n)[0] AS label, count(n) AS n ORDER BY n DESC, label", p).list()) {
                nodes.merge(r.get("label").asString(), r.get("n").asLong(), Long::sum);
            }
            for (Record r : s.run("MATCH (t:Tenant) WHERE t.projectId IN $projects "
                    + "OPTIONAL MATCH (t)-[:LOCATED_AT]->(g:Region) OPTIONAL MATCH (t)-[:BELONGS_TO]->(d:Domain) "
                    + "RETURN count(DISTINCT t) AS tenants, count(DISTINCT g) AS regions, count(DISTINCT d) AS domains",
                    p).list()) {
                nodes.put("Tenant", r.get("tenants").asLong());
                nodes.put("Region", r.get("regions").asLong());
                nodes.merge("Domain", r.get("domains").asLong(), Math::max);
            }
            for (Record r : s.run("MATCH (a:Action)-[x]->() WHERE a.projectId IN $projects "
                    + "RETURN type(x) AS type, count(x) AS n ORDER BY n DESC, type", p).list()) {
                rels.put(r.get("type").asString(), r.get("n").asLong());
            }
            String[] more = {
                "MATCH (r:Resource)-[x:MEMBER_OF]->() WHERE r.projectId IN $projects RETURN 'MEMBER_OF' AS type, count(x) AS n",
                "MATCH (t:Tenant)-[x:LOCATED_AT]->() WHERE t.projectId IN $projects RETURN 'LOCATED_AT' AS type, count(x) AS n",
                "MATCH (t:Tenant)-[x:BELONGS_TO]->() WHERE t.projectId IN $projects RETURN 'BELONGS_TO' AS type, count(x) AS n",
                "MATCH (u:User)-[x:BELONGS_TO]->(:Domain {id: $domain}) RETURN 'BELONGS_TO' AS type, count(x) AS n",
            };
            for (String q : more) {
                Record r = s.run(q, p).single();
                rels.merge(r.get("type").asString(), r.get("n").asLong(), Long::sum);
            }
        }
        System.out.println("Nodes by label:");
        nodes.forEach((k, v) -> System.out.printf("  %-14s %8d%n", k, v));
        System.out.println("Relationships by type:");
        rels.forEach((k, v) -> System.out.printf("  %-14s %8d%n", k, v));
        return 0;
    }

    /** The trace ids the emulator shows for a project now (its /_emulator/truth endpoint). */
    private static List<String> truth(String emulator, String project) throws Exception {
        String url = emulator.replaceAll("/+$", "") + "/_emulator/truth?project_id="
                + URLEncoder.encode(project, StandardCharsets.UTF_8);
        String body = get(url);
        Matcher m = Pattern.compile("\"trace_ids\"\\s*:\\s*\\[([^\\]]*)\\]").matcher(body);
        if (!m.find()) {
            throw new Exception("the emulator's answer at " + url + " has no trace_ids list");
        }
        List<String> ids = new ArrayList<>();
        Matcher id = Pattern.compile("\"([^\"]+)\"").matcher(m.group(1));
        while (id.find()) {
            ids.add(id.group(1));
        }
        return ids;
    }

    /** The sum of cts_exporter_events_acknowledged_total over every cloud; null while unreachable. */
    private static Long acknowledged(String metricsUrl) {
        String body;
        try {
            body = get(metricsUrl);
        } catch (Exception e) {
            return null;
        }
        long sum = 0;
        Matcher m = Pattern.compile("(?m)^cts_exporter_events_acknowledged_total(?:\\{[^}]*\\})? ([0-9.e+]+)$")
                .matcher(body);
        while (m.find()) {
            sum += (long) Double.parseDouble(m.group(1));
        }
        return sum;
    }

    private static String get(String url) throws Exception {
        HttpResponse<String> r = HTTP.send(
                HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() != 200) {
            throw new Exception("GET " + url + " answered " + r.statusCode());
        }
        return r.body();
    }

    private static List<String> projects(String arg) throws UsageException {
        List<String> out = new ArrayList<>();
        for (String p : arg.split(",")) {
            if (!p.isBlank()) {
                out.add(p.trim());
            }
        }
        if (out.isEmpty()) {
            throw new UsageException("no project id given");
        }
        return out;
    }

    private static long number(String arg, String name) throws UsageException {
        try {
            long n = Long.parseLong(arg);
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new UsageException(name + " must be a positive whole number; got \"" + arg + "\"");
    }

    private static void need(String[] args, int n, String usage) throws UsageException {
        if (args.length < n) {
            throw new UsageException("usage: DemoGraph " + usage + " (got " + Arrays.toString(args) + ")");
        }
    }

    private static String env(String name, String fallback) {
        String v = System.getenv(name);
        return v == null || v.isEmpty() ? fallback : v;
    }

    private static final class UsageException extends Exception {
        UsageException(String message) {
            super(message);
        }
    }
}
