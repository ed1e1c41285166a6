package local.neo4j;

import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * Process entry point: parses the settings, starts {@link LocalNeo4j}, and keeps the JVM alive
 * until it is told to stop. SIGTERM (or SIGINT) runs a shutdown hook that removes the ready file and
 * shuts the DBMS down cleanly, so the store needs no recovery on the next start.
 *
 * <p>Exit codes: 0 after a clean stop, 1 when Neo4j could not start, 2 for a bad setting.
 */
public final class Launcher {

    private Launcher() {
    }

    /**
     * Runs until the process is signalled.
     *
     * @param args see {@link LauncherConfig#usage()}
     */
    public static void main(String[] args) {
        LauncherConfig config;
        try {
            config = LauncherConfig.parse(Arrays.asList(args), System.getenv());
        } catch (LauncherConfig.ConfigException e) {
            System.err.println("neo4j-local: " + e.getMessage());
            System.exit(2);
            return;
        }
        int javaVersion = Runtime.version().feature();
        if (javaVersion != 17 && javaVersion != 21) {
            System.err.println("neo4j-local: warning: running on Java " + javaVersion
                    + "; Neo4j 5.26 supports Java 17 and 21");
        }
        System.out.println("neo4j-local: starting Neo4j with " + config);
        System.out.flush();

        long started = System.nanoTime();
        LocalNeo4j neo4j;
        try {
            neo4j = LocalNeo4j.start(config, System.out);
        } catch (LocalNeo4j.StartException e) {
            System.err.println("neo4j-local: " + e.getMessage());
            if (e.getCause() != null) {
                e.getCause().printStackTrace(System.err);
            }
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("neo4j-local: shutting down");
            System.out.flush();
            long t0 = System.nanoTime();
            neo4j.close();
            System.out.printf("neo4j-local: stopped in %.1f s%n", (System.nanoTime() - t0) / 1e9);
            System.out.flush();
            stopped.countDown();
        }, "neo4j-local-shutdown"));
        System.out.printf("neo4j-local: ready on bolt://%s:%d%s after %.1f s (ready file %s)%n",
                LauncherConfig.LISTEN_HOST, config.port(),
                config.tlsDir() == null ? "" : " (TLS optional, certificate in " + config.tlsDir() + ")",
                (System.nanoTime() - started) / 1e9, config.readyFile());
        System.out.flush();

        try {
            stopped.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
