package local.neo4j;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the launcher needs to start Neo4j, parsed and checked before anything is started, so that a
 * wrong setting fails fast with a message that names the setting and the fix.
 *
 * <p>Everything except the password comes from command-line options. The password comes from the
 * environment variable {@value #PASSWORD_ENV} only, so that it never shows up in {@code ps} output.
 */
public final class LauncherConfig {

    /** Environment variable that carries the password of user {@code neo4j}. */
    public static final String PASSWORD_ENV = "NEO4J_LOCAL_PASSWORD";

    /** Neo4j refuses shorter passwords (its default {@code dbms.security.auth_minimum_password_length}). */
    public static final int MIN_PASSWORD_LENGTH = 8;

    /** Bolt only ever listens on the loopback interface. */
    public static final String LISTEN_HOST = "127.0.0.1";

    /** The PEM files Neo4j's Bolt SSL policy reads from the {@code --tls-dir} directory. */
    public static final List<String> TLS_FILES = List.of("private.key", "public.crt");

    private static final Pattern SIZE = Pattern.compile("([0-9]{1,12})([kmg]?)");

    private final Path home;
    private final Path readyFile;
    private final int port;
    private final long pageCacheBytes;
    private final String password;
    private final Path tlsDir;

    private LauncherConfig(Path home, Path readyFile, int port, long pageCacheBytes, String password, Path tlsDir) {
        this.home = home;
        this.readyFile = readyFile;
        this.port = port;
        this.pageCacheBytes = pageCacheBytes;
        this.password = password;
        this.tlsDir = tlsDir;
    }

    /**
     * Parses {@code --home DIR --ready-file FILE [--port N] [--pagecache SIZE] [--tls-dir DIR]} plus
     * the password from {@code env}. The TLS directory must hold {@link #TLS_FILES}; it is checked here
     * so that a missing file is reported before Neo4j starts.
     *
     * @throws ConfigException naming the bad option and how to fix it
     */
    public static LauncherConfig parse(List<String> args, Map<String, String> env) throws ConfigException {
        Path home = null;
        Path readyFile = null;
        int port = 7687;
        long pageCache = parseSize("--pagecache", "1g");
        Path tlsDir = null;
        for (int i = 0; i < args.size(); i++) {
            String option = args.get(i);
            if (!option.startsWith("--")) {
                throw new ConfigException("unexpected argument '" + option + "'; " + usage());
            }
            if (i + 1 >= args.size()) {
                throw new ConfigException("option " + option + " needs a value; " + usage());
            }
            String value = args.get(++i);
            switch (option) {
                case "--home":
                    home = nonEmptyPath(option, value);
                    break;
                case "--ready-file":
                    readyFile = nonEmptyPath(option, value);
                    break;
                case "--port":
                    port = parsePort(value);
                    break;
                case "--pagecache":
                    pageCache = parseSize(option, value);
                    break;
                case "--tls-dir":
                    tlsDir = nonEmptyPath(option, value).toAbsolutePath().normalize();
                    break;
                default:
                    throw new ConfigException("unknown option " + option + "; " + usage());
            }
        }
        if (home == null) {
            throw new ConfigException("option --home is required (the Neo4j home directory); " + usage());
        }
        if (readyFile == null) {
            throw new ConfigException("option --ready-file is required; " + usage());
        }
        String password = env.get(PASSWORD_ENV);
        if (password == null || password.isEmpty()) {
            throw new ConfigException("environment variable " + PASSWORD_ENV
                    + " is not set; set it to the password for user neo4j (at least "
                    + MIN_PASSWORD_LENGTH + " characters)");
        }
        if (password.length() < MIN_PASSWORD_LENGTH) {
            throw new ConfigException(PASSWORD_ENV + " is too short (" + password.length()
                    + " characters); Neo4j needs at least " + MIN_PASSWORD_LENGTH);
        }
        if (tlsDir != null) {
            for (String name : TLS_FILES) {
                if (!Files.isRegularFile(tlsDir.resolve(name))) {
                    throw new ConfigException("--tls-dir " + tlsDir + " has no " + name + "; it needs "
                            + String.join(" and ", TLS_FILES) + " (PEM; scripts/neo4j-local makes them with openssl)");
                }
            }
        }
        return new LauncherConfig(home.toAbsolutePath().normalize(),
                readyFile.toAbsolutePath().normalize(), port, pageCache, password, tlsDir);
    }

    /** One line that lists the options, for error messages. */
    public static String usage() {
        return "usage: --home DIR --ready-file FILE [--port 1-65535] [--pagecache SIZE like 512m or 1g]"
                + " [--tls-dir DIR with private.key and public.crt],"
                + " password in $" + PASSWORD_ENV;
    }

    static int parsePort(String value) throws ConfigException {
        int port;
        try {
            port = Integer.parseInt(value.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException("--port '" + value + "' is not a number; use a TCP port from 1 to 65535");
        }
        if (port < 1 || port > 65535) {
            throw new ConfigException("--port " + port + " is out of range; use a TCP port from 1 to 65535");
        }
        return port;
    }

    /** Parses {@code 123}, {@code 512k}, {@code 512m}, {@code 2g} (case-insensitive) into bytes. */
    static long parseSize(String option, String value) throws ConfigException {
        Matcher m = SIZE.matcher(value.trim().toLowerCase(Locale.ROOT));
        if (!m.matches()) {
            throw new ConfigException(option + " '" + value
                    + "' is not a size; use a number with an optional unit k, m or g, e.g. 512m or 1g");
        }
        long number = Long.parseLong(m.group(1));
        int shift;
        switch (m.group(2)) {
            case "k":
                shift = 10;
                break;
            case "m":
                shift = 20;
                break;
            case "g":
                shift = 30;
                break;
            default:
                shift = 0;
        }
        if (number == 0) {
            throw new ConfigException(option + " '" + value + "' must be larger than zero");
        }
        if (number > (Long.MAX_VALUE >> shift)) {
            throw new ConfigException(option + " '" + value + "' is too large");
        }
        return number << shift;
    }

    private static Path nonEmptyPath(String option, String value) throws ConfigException {
        if (value.isBlank()) {
            throw new ConfigException("option " + option + " needs a non-empty path");
        }
        return Path.of(value);
    }

    /** Neo4j home directory; the databases live in {@code data/} below it. */
    public Path home() {
        return home;
    }

    /** File written once the DBMS is ready for Bolt clients, removed on shutdown. */
    public Path readyFile() {
        return readyFile;
    }

    /** Bolt port on {@link #LISTEN_HOST}. */
    public int port() {
        return port;
    }

    /** Page cache size in bytes. */
    public long pageCacheBytes() {
        return pageCacheBytes;
    }

    /**
     * Directory with the server's {@code private.key} and {@code public.crt}, or {@code null}. With
     * it, Bolt accepts TLS and plain connections on the same port (encryption level OPTIONAL).
     */
    public Path tlsDir() {
        return tlsDir;
    }

    /** The password of user {@code neo4j}; never logged. */
    String password() {
        return password;
    }

    /** Lists every setting except the password, which is shown as {@code ***}. */
    @Override
    public String toString() {
        return "LauncherConfig{home=" + home + ", readyFile=" + readyFile + ", port=" + port
                + ", pageCacheBytes=" + pageCacheBytes + ", tlsDir=" + tlsDir + ", password=***}";
    }

    /** A setting is missing or invalid; the message says which one and how to fix it. */
    public static final class ConfigException extends Exception {
        private static final long serialVersionUID = 1L;

        ConfigException(String message) {
            super(message);
        }
    }
}
