package local.neo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Starts the real DBMS in this JVM and talks Bolt 4.4 to it. Takes a minute: three starts. */
class LocalNeo4jTest {

    @TempDir
    Path dir;

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    private LauncherConfig config(int port, String password) throws Exception {
        return LauncherConfig.parse(
                List.of("--home", dir.resolve("home").toString(), "--ready-file", dir.resolve("ready").toString(),
                        "--port", Integer.toString(port), "--pagecache", "64m"),
                Map.of(LauncherConfig.PASSWORD_ENV, password));
    }

    private static long countProbes(LocalNeo4j neo4j) {
        return neo4j.dbms().database("neo4j").executeTransactionally(
                "MATCH (p:Probe) RETURN count(p) AS c", Map.of(), r -> (Long) r.next().get("c"));
    }

    @Test
    void bolt44ClientLogsInKeepsDataAndFollowsPasswordChanges() throws Exception {
        int port = freePort();
        ByteArrayOutputStream log = new ByteArrayOutputStream();

        try (LocalNeo4j neo4j = LocalNeo4j.start(config(port, "first-password"), log)) {
            String ready = Files.readString(dir.resolve("ready"));
            assertTrue(ready.contains("port=" + port + "\n"), ready);
            assertTrue(ready.contains("pid=" + ProcessHandle.current().pid() + "\n"), ready);

            try (BoltProbe bolt = new BoltProbe(port)) {
                assertEquals(0x0404, bolt.handshake44(), "server must accept Bolt 4.4");
                assertEquals(BoltProbe.SUCCESS, bolt.hello("neo4j", "first-password"));
                assertTrue(bolt.returnOne(), "RETURN 1 over Bolt 4.4");
            }
            try (BoltProbe bolt = new BoltProbe(port)) {
                assertEquals(0x0404, bolt.handshake44());
                assertEquals(BoltProbe.FAILURE, bolt.hello("neo4j", "wrong-password"));
            }
            neo4j.dbms().database("neo4j").executeTransactionally("CREATE (:Probe {id: 1})");
        }
        assertFalse(Files.exists(dir.resolve("ready")), "ready file is removed on shutdown");
        assertFalse(log.toString(StandardCharsets.UTF_8).contains("first-password"), "password must not be logged");

        // Same password again: the "cannot be the same" refusal must be tolerated; data survives.
        try (LocalNeo4j neo4j = LocalNeo4j.start(config(port, "first-password"), log)) {
            assertEquals(1L, countProbes(neo4j));
            try (BoltProbe bolt = new BoltProbe(port)) {
                assertEquals(0x0404, bolt.handshake44());
                assertEquals(BoltProbe.SUCCESS, bolt.hello("neo4j", "first-password"));
            }
        }

        // A new password in the environment replaces the old one.
        try (LocalNeo4j neo4j = LocalNeo4j.start(config(port, "second-password"), log)) {
            assertEquals(1L, countProbes(neo4j));
            try (BoltProbe bolt = new BoltProbe(port)) {
                assertEquals(0x0404, bolt.handshake44());
                assertEquals(BoltProbe.SUCCESS, bolt.hello("neo4j", "second-password"));
                assertTrue(bolt.returnOne());
            }
            try (BoltProbe bolt = new BoltProbe(port)) {
                assertEquals(0x0404, bolt.handshake44());
                assertEquals(BoltProbe.FAILURE, bolt.hello("neo4j", "first-password"));
            }
        }
    }

    @Test
    void portInUseGivesAClearError() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getByName("127.0.0.1"))) {
            LocalNeo4j.StartException e = assertThrows(LocalNeo4j.StartException.class,
                    () -> LocalNeo4j.start(config(taken.getLocalPort(), "some-password"), new ByteArrayOutputStream()));
            assertTrue(e.getMessage().contains("port " + taken.getLocalPort()), e.getMessage());
            assertTrue(e.getMessage().contains("already in use"), e.getMessage());
            assertFalse(Files.exists(dir.resolve("ready")));
        }
    }
}
