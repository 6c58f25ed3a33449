import { connect, createServer, type AddressInfo, type Socket } from 'node:net';

export interface TcpProxy {
  /** 127.0.0.1:PORT, to put in a URL in place of the target's. */
  host: string;
  /** Holds what the target sends until `release`: the client's bytes still reach it, no answer comes back. */
  hold(): void;
  /** Sends on what was held, in order, and lets the answers through again. */
  release(): void;
  close(): Promise<void>;
}

/** A TCP proxy on 127.0.0.1 to a local port that can stall the answers, as a blocked or slow server would. */
export async function startTcpProxy(targetPort: number): Promise<TcpProxy> {
  let holding = false;
  const sockets = new Set<Socket>();
  const held: Array<{ to: Socket; chunk: Buffer }> = [];
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('error', () => undefined);
      socket.on('close', () => {
        sockets.delete(socket);
        client.destroy();
        upstream.destroy();
      });
    }
    client.on('data', (chunk: Buffer) => upstream.write(chunk));
    upstream.on('data', (chunk: Buffer) => (holding ? held.push({ to: client, chunk }) : client.write(chunk)));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    hold() {
      holding = true;
    },
    release() {
      holding = false;
      for (const { to, chunk } of held.splice(0)) to.write(chunk);
    },
    async close() {
      // Stop listening first: a client that reconnects at once must not keep the server open.
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
