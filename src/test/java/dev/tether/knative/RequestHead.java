package dev.tether.knative;

import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * The head of an HTTP/1.1 request (request line and headers up to the empty line), read from a client
 * before the request is routed: the bytes to forward as they came, and the request line for logs.
 */
record RequestHead(byte[] bytes, String requestLine) {

    /** Larger heads are refused, as Knative's queue-proxy refuses them. */
    static final int MAX_BYTES = 16 * 1024;

    RequestHead {
        bytes = bytes.clone();
    }

    @Override
    public byte[] bytes() {
        return bytes.clone();
    }

    /**
     * Reads up to and including the first {@code CRLF CRLF} and not a byte further, so that whatever follows stays in
     * {@code in} for the pipe.
     */
    static RequestHead read(InputStream in) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream(512);
        int matched = 0; // how much of CR LF CR LF has been seen last
        while (matched < 4) {
            int b = in.read();
            if (b < 0) {
                throw new EOFException("connection closed after " + head.size() + " bytes of a request head");
            }
            head.write(b);
            if (head.size() > MAX_BYTES) {
                throw new IOException("request head longer than " + MAX_BYTES + " bytes");
            }
            matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
        }
        byte[] bytes = head.toByteArray();
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        return new RequestHead(bytes, text.substring(0, text.indexOf("\r\n")));
    }
}
