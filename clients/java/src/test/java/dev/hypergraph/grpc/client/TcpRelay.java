package dev.hypergraph.grpc.client;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A loopback TCP relay for tests: listens on 127.0.0.1 on a free port and forwards every
 * connection it accepts to {@code HOST:PORT}, byte for byte, with two plain threads per
 * connection. {@link #cut()} resets every open connection (both sides) while the relay keeps
 * accepting new ones: a lost connection, as a client sees a crashed proxy or a dropped link.
 */
final class TcpRelay implements AutoCloseable {
  private final String upstreamHost;
  private final int upstreamPort;
  private final ServerSocket server;
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final AtomicInteger accepted = new AtomicInteger();
  private volatile boolean closed;

  /** Starts relaying to {@code target} ("HOST:PORT"). */
  TcpRelay(String target) throws IOException {
    int colon = target.lastIndexOf(':');
    this.upstreamHost = target.substring(0, colon);
    this.upstreamPort = Integer.parseInt(target.substring(colon + 1));
    this.server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    Thread acceptor = new Thread(this::acceptLoop, "tcp-relay-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The relay's own address, HOST:PORT, to connect a client to. */
  String address() {
    return server.getInetAddress().getHostAddress() + ":" + server.getLocalPort();
  }

  /** How many connections the relay has accepted so far. */
  int accepted() {
    return accepted.get();
  }

  /** Resets every open connection on both sides (RST, not FIN); new ones are still accepted. */
  void cut() {
    Set<Socket> sockets = Set.copyOf(open);
    for (Socket s : sockets) {
      try {
        s.setSoLinger(true, 0); // close() then sends RST: an abrupt loss, not a clean end
      } catch (IOException e) {
        // already closed
      }
    }
    sockets.forEach(TcpRelay::closeQuietly);
    open.removeAll(sockets);
  }

  /** Stops accepting and resets every open connection. */
  @Override
  public void close() {
    closed = true;
    closeQuietly(server);
    cut();
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      accepted.incrementAndGet();
      Socket upstream;
      try {
        upstream = new Socket(upstreamHost, upstreamPort);
        client.setTcpNoDelay(true);
        upstream.setTcpNoDelay(true);
      } catch (IOException e) {
        closeQuietly(client);
        continue;
      }
      open.add(client);
      open.add(upstream);
      pump(client, upstream, "tcp-relay-up");
      pump(upstream, client, "tcp-relay-down");
    }
  }

  /** Copies {@code from} to {@code to} until either fails or ends, then closes both. */
  private void pump(Socket from, Socket to, String name) {
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[16 * 1024];
      try {
        InputStream in = from.getInputStream();
        OutputStream out = to.getOutputStream();
        int n;
        while ((n = in.read(buffer)) >= 0) {
          out.write(buffer, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // reset or closed: the connection is over
      } finally {
        closeQuietly(from);
        closeQuietly(to);
        open.remove(from);
        open.remove(to);
      }
    }, name);
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // nothing to do
    }
  }
}
