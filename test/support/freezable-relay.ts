import { connect, createServer, type Server, type Socket } from 'node:net';
import { TEST_DATABASE_URL } from './services.js';

/**
 * A TCP relay to the test server whose open connections can be frozen: bytes stop flowing
 * both ways but nothing is closed, as when a NAT forgets a connection. New connections flow.
 */
export async function freezableRelay(): Promise<{ url: string; freeze(): void; close(): Promise<void> }> {
  const target = new URL(TEST_DATABASE_URL);
  const sockets: Socket[] = [];
  const server: Server = createServer((downstream) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    sockets.push(downstream, upstream);
    downstream.pipe(upstream).on('error', () => undefined);
    upstream.pipe(downstream).on('error', () => undefined);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  const url = new URL(TEST_DATABASE_URL);
  url.host = `127.0.0.1:${port}`;
  return {
    url: url.toString(),
    freeze() {
      for (const socket of sockets) {
        socket.unpipe();
        socket.pause();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
