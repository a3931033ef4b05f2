// A loopback TCP relay to a server, started by a test on a free port: a client
// made with the relay's baseUrl talks to the server through it, and the test
// can cut every open connection at once, as a lost network or a reset would.
import { connect, createServer, type AddressInfo, type Socket } from "node:net";

export interface Relay {
  /** "http://127.0.0.1:PORT": the relay's address, to use instead of the server's. */
  baseUrl: string;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Reset every open connection, both sides (an RST, not a FIN); new ones are still accepted. Returns how many it cut. */
  cut(): number;
  /** Stop accepting and cut what is open. */
  close(): Promise<void>;
}

/** Start a relay to target ("http://HOST:PORT") on a free loopback port. */
export async function startRelay(target: string): Promise<Relay> {
  const { hostname, port } = new URL(target);
  const open = new Set<Socket>();
  let accepted = 0;
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on("error", () => undefined); // a reset side reports ECONNRESET/EPIPE: expected here
    socket.on("close", () => open.delete(socket));
  };
  const listener = createServer((down) => {
    accepted++;
    const up = connect(Number(port), hostname);
    track(down);
    track(up);
    down.pipe(up);
    up.pipe(down);
  });
  await new Promise<void>((listening) => listener.listen(0, "127.0.0.1", listening));
  const cut = () => {
    const sockets = [...open];
    for (const socket of sockets) socket.resetAndDestroy();
    open.clear();
    return sockets.length / 2;
  };
  return {
    baseUrl: `http://127.0.0.1:${(listener.address() as AddressInfo).port}`,
    get accepted() {
      return accepted;
    },
    cut,
    close: async () => {
      const closed = new Promise((done) => listener.close(done));
      cut();
      await closed;
    },
  };
}
