package local.neo4j;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.neo4j.configuration.GraphDatabaseInternalSettings;
import org.neo4j.configuration.GraphDatabaseSettings;
import org.neo4j.configuration.connectors.BoltConnector;
import org.neo4j.configuration.connectors.HttpConnector;
import org.neo4j.configuration.connectors.HttpsConnector;
import org.neo4j.configuration.helpers.SocketAddress;
import org.neo4j.configuration.ssl.ClientAuth;
import org.neo4j.configuration.ssl.SslPolicyConfig;
import org.neo4j.configuration.ssl.SslPolicyScope;
import org.neo4j.dbms.api.DatabaseManagementService;
import org.neo4j.dbms.api.DatabaseManagementServiceBuilder;
import org.neo4j.graphdb.GraphDatabaseService;
import org.neo4j.logging.log4j.Log4jLogProvider;

/**
 * One running Neo4j DBMS with Bolt on the loopback interface, its password set and its ready file
 * written. This is the part that talks to the Neo4j API; {@link Launcher} only adds the process
 * life cycle around it (signals, exit codes).
 *
 * <p>The embedded DBMS starts with different defaults than the Neo4j server, so everything the
 * tests rely on is set explicitly here: Bolt on, HTTP off, authentication on.
 */
public final class LocalNeo4j implements AutoCloseable {

    /** How long to wait for the system and default databases to come up. */
    static final Duration DATABASE_START_TIMEOUT = Duration.ofMinutes(5);

    private final LauncherConfig config;
    private final DatabaseManagementService dbms;
    private final Log4jLogProvider userLog;
    private boolean closed;

    private LocalNeo4j(LauncherConfig config, DatabaseManagementService dbms, Log4jLogProvider userLog) {
        this.config = config;
        this.dbms = dbms;
        this.userLog = userLog;
    }

    /**
     * Starts the DBMS, sets the password of user {@code neo4j}, waits until the default database is
     * available and the Bolt port accepts connections, and only then writes the ready file.
     *
     * @param userLogOut where Neo4j's user log (the server's {@code neo4j.log} lines) goes
     * @throws StartException when any of these steps fails; the DBMS is shut down again
     */
    public static LocalNeo4j start(LauncherConfig config, OutputStream userLogOut) throws StartException {
        try {
            Files.deleteIfExists(config.readyFile());
            Files.createDirectories(config.home());
        } catch (IOException e) {
            throw new StartException("cannot prepare " + config.home() + " / " + config.readyFile()
                    + ": " + e.getMessage() + "; check that the directory is writable", e);
        }
        Log4jLogProvider userLog = new Log4jLogProvider(userLogOut);
        DatabaseManagementService dbms;
        try {
            dbms = builder(config).setUserLogProvider(userLog).build();
        } catch (RuntimeException e) {
            userLog.close();
            throw explainStartFailure(config, e);
        }
        LocalNeo4j neo4j = new LocalNeo4j(config, dbms, userLog);
        try {
            neo4j.setPassword();
            neo4j.awaitDefaultDatabase();
            awaitBoltPort(config.port());
            neo4j.writeReadyFile();
            return neo4j;
        } catch (StartException | RuntimeException e) {
            neo4j.close();
            if (e instanceof StartException) {
                throw (StartException) e;
            }
            throw new StartException("Neo4j started but could not be made ready: " + e, e);
        }
    }

    static DatabaseManagementServiceBuilder builder(LauncherConfig config) {
        SocketAddress bolt = new SocketAddress(LauncherConfig.LISTEN_HOST, config.port());
        DatabaseManagementServiceBuilder builder = new DatabaseManagementServiceBuilder(config.home())
                .setConfig(GraphDatabaseSettings.default_listen_address, new SocketAddress(LauncherConfig.LISTEN_HOST))
                .setConfig(BoltConnector.enabled, true)
                .setConfig(BoltConnector.listen_address, bolt)
                // Routing drivers (neo4j:// URIs) connect to the advertised address; "localhost"
                // could resolve to ::1, where nothing listens.
                .setConfig(BoltConnector.advertised_address, bolt)
                .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.DISABLED)
                .setConfig(HttpConnector.enabled, false)
                .setConfig(HttpsConnector.enabled, false)
                .setConfig(GraphDatabaseSettings.auth_enabled, true)
                // No "anonymous usage data" reports from a test database.
                .setConfig(GraphDatabaseSettings.udc_enabled, false)
                .setConfig(GraphDatabaseSettings.pagecache_memory, config.pageCacheBytes())
                // A test database: do not preallocate 256 MiB transaction log files, keep few of them.
                .setConfig(GraphDatabaseSettings.preallocate_logical_logs, false)
                .setConfig(GraphDatabaseSettings.logical_log_rotation_threshold, 64L << 20)
                .setConfig(GraphDatabaseSettings.keep_logical_logs, "128M size")
                // Bolt's network threads otherwise idle for a 5 s "quiet period" (twice) on
                // shutdown, which makes every stop take 10 s longer than the database needs.
                .setConfig(GraphDatabaseInternalSettings.netty_server_shutdown_quiet_period, 0);
        if (config.tlsDir() != null) {
            // TLS and plain Bolt on the same port: clients choose with the URI scheme (bolt+s,
            // neo4j+s, bolt+ssc or plain bolt, neo4j). No client certificates are asked for.
            SslPolicyConfig policy = SslPolicyConfig.forScope(SslPolicyScope.BOLT);
            builder.setConfig(policy.enabled, true)
                    .setConfig(policy.base_directory, config.tlsDir())
                    .setConfig(policy.client_auth, ClientAuth.NONE)
                    .setConfig(BoltConnector.encryption_level, BoltConnector.EncryptionLevel.OPTIONAL);
        }
        return builder;
    }

    /**
     * Sets the password on every start, so that the environment variable always wins, and marks it
     * as not needing a change (otherwise every client would first be forced to change it).
     */
    private void setPassword() throws StartException {
        GraphDatabaseService system = dbms.database(GraphDatabaseSettings.SYSTEM_DATABASE_NAME);
        if (!system.isAvailable(DATABASE_START_TIMEOUT.toMillis())) {
            throw new StartException("the system database did not become available within "
                    + DATABASE_START_TIMEOUT.toSeconds() + " s; see debug.log under " + config.home().resolve("logs"), null);
        }
        try {
            system.executeTransactionally("ALTER USER neo4j SET PASSWORD $password CHANGE NOT REQUIRED",
                    Map.of("password", config.password()));
        } catch (RuntimeException e) {
            if (isSamePasswordRefusal(e)) {
                // Already set to this password by an earlier start; still clear the change flag.
                system.executeTransactionally("ALTER USER neo4j SET PASSWORD CHANGE NOT REQUIRED");
                return;
            }
            // The message of a refused password does not contain the password itself.
            throw new StartException("could not set the password of user neo4j: " + e.getMessage(), e);
        }
    }

    static boolean isSamePasswordRefusal(Throwable e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            String message = t.getMessage();
            if (message != null && message.contains("Old password and new password cannot be the same")) {
                return true;
            }
        }
        return false;
    }

    private void awaitDefaultDatabase() throws StartException {
        GraphDatabaseService db = dbms.database(GraphDatabaseSettings.DEFAULT_DATABASE_NAME);
        if (!db.isAvailable(DATABASE_START_TIMEOUT.toMillis())) {
            throw new StartException("database '" + GraphDatabaseSettings.DEFAULT_DATABASE_NAME
                    + "' did not become available within " + DATABASE_START_TIMEOUT.toSeconds()
                    + " s; see debug.log under " + config.home().resolve("logs"), null);
        }
    }

    private static void awaitBoltPort(int port) throws StartException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        IOException last = null;
        while (System.nanoTime() < deadline) {
            try (Socket socket = new Socket()) {
                socket.connect(new InetSocketAddress(LauncherConfig.LISTEN_HOST, port), 1000);
                return;
            } catch (IOException e) {
                last = e;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new StartException("the DBMS is up but Bolt does not accept connections on "
                + LauncherConfig.LISTEN_HOST + ":" + port + (last == null ? "" : " (" + last.getMessage() + ")"), last);
    }

    /** Written to a temporary file and renamed, so a reader never sees half a file. */
    private void writeReadyFile() throws StartException {
        Path ready = config.readyFile();
        String content = "pid=" + ProcessHandle.current().pid() + "\n"
                + "port=" + config.port() + "\n"
                + "ready_at=" + Instant.now() + "\n";
        try {
            Path parent = ready.toAbsolutePath().getParent();
            Files.createDirectories(parent);
            Path tmp = Files.createTempFile(parent, ".ready", ".tmp");
            Files.writeString(tmp, content, StandardCharsets.UTF_8);
            Files.move(tmp, ready, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            throw new StartException("cannot write the ready file " + ready + ": " + e.getMessage(), e);
        }
    }

    /** The running DBMS, for callers in the same JVM (the tests). */
    public DatabaseManagementService dbms() {
        return dbms;
    }

    /** Removes the ready file first (no client should start now), then shuts the DBMS down. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Files.deleteIfExists(config.readyFile());
        } catch (IOException e) {
            System.err.println("neo4j-local: could not remove " + config.readyFile() + ": " + e.getMessage());
        }
        try {
            dbms.shutdown();
        } finally {
            userLog.close();
        }
    }

    private static StartException explainStartFailure(LauncherConfig config, RuntimeException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.net.BindException
                    || (t.getMessage() != null && t.getMessage().contains("Address already in use"))) {
                return new StartException("port " + config.port() + " on " + LauncherConfig.LISTEN_HOST
                        + " is already in use by another process; stop it or choose another port"
                        + " (NEO4J_LOCAL_PORT for scripts/neo4j-local)", e);
            }
            if (t.getMessage() != null && t.getMessage().contains("Lock file has been locked by another process")) {
                return new StartException("the store in " + config.home()
                        + " is locked by another Neo4j process; stop that one first", e);
            }
        }
        return new StartException("Neo4j failed to start: " + e, e);
    }

    /** Starting failed; the message says why and, where known, what to do. */
    public static final class StartException extends Exception {
        private static final long serialVersionUID = 1L;

        StartException(String message, Throwable cause) {
            super(message, cause);
        }
    }
}
