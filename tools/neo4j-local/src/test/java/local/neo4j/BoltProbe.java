package local.neo4j;

import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

/**
 * A deliberately tiny Bolt 4.4 client for the tests: it offers only protocol version 4.4 in the
 * handshake (as the Rust driver neo4rs 0.9 does), logs in with HELLO and can run one query whose
 * single record is the integer 1. Just enough to prove that a Bolt 4.x client can talk to the DBMS.
 */
final class BoltProbe implements AutoCloseable {

    static final int SUCCESS = 0x70;
    static final int RECORD = 0x71;
    static final int FAILURE = 0x7F;

    private final Socket socket;
    private final DataInputStream in;
    private final OutputStream out;

    BoltProbe(int port) throws IOException {
        socket = new Socket();
        socket.connect(new InetSocketAddress("127.0.0.1", port), 5000);
        socket.setSoTimeout(30_000);
        in = new DataInputStream(socket.getInputStream());
        out = socket.getOutputStream();
    }

    /** Offers only Bolt 4.4 and returns the version the server picked (0x0404, or 0 for none). */
    int handshake44() throws IOException {
        byte[] hello = {
            0x60, 0x60, (byte) 0xB0, 0x17,
            0, 0, 4, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        };
        out.write(hello);
        out.flush();
        return in.readInt();
    }

    /** Sends HELLO with basic auth and returns the signature of the reply (SUCCESS or FAILURE). */
    int hello(String user, String password) throws IOException {
        ByteArrayOutputStream m = new ByteArrayOutputStream();
        m.write(0xB1);
        m.write(0x01);
        m.write(0xA4);
        string(m, "user_agent");
        string(m, "neo4j-local-test/1");
        string(m, "scheme");
        string(m, "basic");
        string(m, "principal");
        string(m, user);
        string(m, "credentials");
        string(m, password);
        send(m.toByteArray());
        return readMessage()[1] & 0xFF;
    }

    /** RUN "RETURN 1 AS n" then PULL all; returns true when the one record holds the integer 1. */
    boolean returnOne() throws IOException {
        ByteArrayOutputStream run = new ByteArrayOutputStream();
        run.write(0xB3);
        run.write(0x10);
        string(run, "RETURN 1 AS n");
        run.write(0xA0);
        run.write(0xA0);
        send(run.toByteArray());
        if ((readMessage()[1] & 0xFF) != SUCCESS) {
            return false;
        }
        ByteArrayOutputStream pull = new ByteArrayOutputStream();
        pull.write(0xB1);
        pull.write(0x3F);
        pull.write(0xA1);
        string(pull, "n");
        pull.write(0xFF); // tiny int -1: all records
        send(pull.toByteArray());
        byte[] record = readMessage();
        boolean one = record.length == 4 && (record[1] & 0xFF) == RECORD
                && (record[2] & 0xFF) == 0x91 && record[3] == 1;
        return one && (readMessage()[1] & 0xFF) == SUCCESS;
    }

    private static void string(ByteArrayOutputStream m, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        if (b.length < 16) {
            m.write(0x80 | b.length);
        } else if (b.length < 256) {
            m.write(0xD0);
            m.write(b.length);
        } else {
            throw new IllegalArgumentException("string too long for this probe");
        }
        m.writeBytes(b);
    }

    private void send(byte[] message) throws IOException {
        out.write(message.length >> 8);
        out.write(message.length & 0xFF);
        out.write(message);
        out.write(0);
        out.write(0);
        out.flush();
    }

    private byte[] readMessage() throws IOException {
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        while (true) {
            int size = in.readUnsignedShort();
            if (size == 0) {
                if (message.size() == 0) {
                    continue; // NOOP keep-alive chunk
                }
                return message.toByteArray();
            }
            byte[] chunk = new byte[size];
            in.readFully(chunk);
            message.writeBytes(chunk);
        }
    }

    @Override
    public void close() throws IOException {
        socket.close();
    }
}
