package local.neo4j;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import java.nio.file.Files;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LauncherConfigTest {

    private static final Map<String, String> ENV = Map.of(LauncherConfig.PASSWORD_ENV, "s3cret-pass");

    private static LauncherConfig parse(Map<String, String> env, String... args) throws Exception {
        return LauncherConfig.parse(List.of(args), env);
    }

    @Test
    void parsesAllOptions() throws Exception {
        LauncherConfig c = parse(ENV, "--home", "/tmp/h", "--ready-file", "/tmp/r", "--port", "7700", "--pagecache", "512m");
        assertEquals(Path.of("/tmp/h"), c.home());
        assertEquals(Path.of("/tmp/r"), c.readyFile());
        assertEquals(7700, c.port());
        assertEquals(512L << 20, c.pageCacheBytes());
        assertEquals("s3cret-pass", c.password());
    }

    @Test
    void defaultsPortAndPageCacheAndMakesPathsAbsolute() throws Exception {
        LauncherConfig c = parse(ENV, "--home", "rel/home", "--ready-file", "rel/ready");
        assertEquals(7687, c.port());
        assertEquals(1L << 30, c.pageCacheBytes());
        assertTrue(c.home().isAbsolute());
        assertTrue(c.home().endsWith(Path.of("rel/home")));
        assertTrue(c.readyFile().isAbsolute());
    }

    @Test
    void tlsDirIsOptionalAndMustHoldKeyAndCertificate(@TempDir Path dir) throws Exception {
        assertEquals(null, parse(ENV, "--home", "/h", "--ready-file", "/r").tlsDir());
        Exception e = assertThrows(LauncherConfig.ConfigException.class,
                () -> parse(ENV, "--home", "/h", "--ready-file", "/r", "--tls-dir", dir.toString()));
        assertTrue(e.getMessage().contains("has no private.key"), e.getMessage());
        Files.writeString(dir.resolve("private.key"), "k");
        e = assertThrows(LauncherConfig.ConfigException.class,
                () -> parse(ENV, "--home", "/h", "--ready-file", "/r", "--tls-dir", dir.toString()));
        assertTrue(e.getMessage().contains("has no public.crt"), e.getMessage());
        Files.writeString(dir.resolve("public.crt"), "c");
        LauncherConfig c = parse(ENV, "--home", "/h", "--ready-file", "/r", "--tls-dir", dir.toString());
        assertEquals(dir.toAbsolutePath().normalize(), c.tlsDir());
        assertTrue(c.toString().contains("tlsDir=" + c.tlsDir()), c.toString());
    }

    @Test
    void toStringNeverShowsThePassword() throws Exception {
        LauncherConfig c = parse(ENV, "--home", "/h", "--ready-file", "/r");
        assertFalse(c.toString().contains("s3cret-pass"), c.toString());
        assertTrue(c.toString().contains("password=***"));
    }

    @Test
    void requiresHomeAndReadyFile() {
        Exception e = assertThrows(LauncherConfig.ConfigException.class, () -> parse(ENV, "--ready-file", "/r"));
        assertTrue(e.getMessage().contains("--home is required"), e.getMessage());
        e = assertThrows(LauncherConfig.ConfigException.class, () -> parse(ENV, "--home", "/h"));
        assertTrue(e.getMessage().contains("--ready-file is required"), e.getMessage());
    }

    @Test
    void rejectsUnknownOptionsAndMissingValues() {
        Exception e = assertThrows(LauncherConfig.ConfigException.class,
                () -> parse(ENV, "--home", "/h", "--ready-file", "/r", "--bogus", "1"));
        assertTrue(e.getMessage().contains("unknown option --bogus"), e.getMessage());
        e = assertThrows(LauncherConfig.ConfigException.class, () -> parse(ENV, "--home"));
        assertTrue(e.getMessage().contains("--home needs a value"), e.getMessage());
        e = assertThrows(LauncherConfig.ConfigException.class, () -> parse(ENV, "stray"));
        assertTrue(e.getMessage().contains("unexpected argument 'stray'"), e.getMessage());
    }

    @Test
    void requiresAPasswordOfAtLeastEightCharacters() {
        Exception e = assertThrows(LauncherConfig.ConfigException.class,
                () -> parse(Map.of(), "--home", "/h", "--ready-file", "/r"));
        assertTrue(e.getMessage().contains(LauncherConfig.PASSWORD_ENV + " is not set"), e.getMessage());
        e = assertThrows(LauncherConfig.ConfigException.class,
                () -> parse(Map.of(LauncherConfig.PASSWORD_ENV, "short"), "--home", "/h", "--ready-file", "/r"));
        assertTrue(e.getMessage().contains("too short (5 characters)"), e.getMessage());
        assertFalse(e.getMessage().contains("short)"), "the message must not echo the password");
    }

    @Test
    void rejectsBadPorts() {
        for (String bad : new String[] {"0", "65536", "-1", "http", ""}) {
            Exception e = assertThrows(LauncherConfig.ConfigException.class,
                    () -> parse(ENV, "--home", "/h", "--ready-file", "/r", "--port", bad), bad);
            assertTrue(e.getMessage().contains("1 to 65535"), e.getMessage());
        }
    }

    @Test
    void parsesSizesWithUnits() throws Exception {
        assertEquals(4096L, LauncherConfig.parseSize("--pagecache", "4096"));
        assertEquals(8L << 10, LauncherConfig.parseSize("--pagecache", "8k"));
        assertEquals(2L << 30, LauncherConfig.parseSize("--pagecache", "2G"));
        assertEquals(300L << 20, LauncherConfig.parseSize("--pagecache", " 300M "));
    }

    @Test
    void rejectsBadSizes() {
        for (String bad : new String[] {"0", "1t", "-5m", "one", "1.5g", "99999999999999g"}) {
            Exception e = assertThrows(LauncherConfig.ConfigException.class,
                    () -> LauncherConfig.parseSize("--pagecache", bad), bad);
            assertTrue(e.getMessage().startsWith("--pagecache '"), e.getMessage());
        }
    }
}
