import { once } from 'node:events';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type FreezableRelay, freezableRelay } from './support/freezable-relay.js';
import { waitUntil, withDeadline } from './support/wait.js';

/** A loopback echo server standing in for Postgres or Redis. */
async function echoServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.pipe(socket);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    port: (server.address() as { port: number }).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

/** A client of the relay that collects what it receives. */
async function client(relay: FreezableRelay) {
  const { port } = new URL(relay.url);
  const socket = connect(Number(port), '127.0.0.1');
  let received = '';
  let closed = false;
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  socket.on('error', () => undefined);
  socket.on('close', () => {
    closed = true;
  });
  await once(socket, 'connect');
  return { socket, received: () => received, closed: () => closed };
}

describe('freezableRelay (test support)', () => {
  let echo: Awaited<ReturnType<typeof echoServer>>;
  let relay: FreezableRelay;
  beforeEach(async () => {
    echo = await echoServer();
    relay = await freezableRelay(`redis://127.0.0.1:${echo.port}`);
  });
  afterEach(async () => {
    await relay.close();
    await echo.close();
  });

  it('relays both ways, on the loopback address, to a loopback target only', async () => {
    expect(new URL(relay.url).hostname).toBe('127.0.0.1');
    const c = await client(relay);
    c.socket.write('ping');
    await waitUntil('the echo', () => c.received() === 'ping');
    await expect(freezableRelay('postgres://db.example.com:5432/test')).rejects.toThrow(/not loopback/);
  });

  it('frozen, holds bytes back without closing; resumed, delivers them in order, new connections too', async () => {
    const before = await client(relay);
    relay.freeze();
    before.socket.write('a');
    before.socket.write('b');
    const during = await client(relay);
    during.socket.write('c');
    expect(before.closed()).toBe(false);
    relay.resume();
    await waitUntil('held-back bytes', () => before.received() === 'ab' && during.received() === 'c');
    expect(relay.openConnections).toBe(2);
  });

  it("freeze('open') leaves new connections flowing", async () => {
    const before = await client(relay);
    relay.freeze('open');
    const after = await client(relay);
    after.socket.write('x');
    await waitUntil('the new connection to echo', () => after.received() === 'x');
    before.socket.write('y');
    relay.resume();
    await waitUntil('the frozen one to catch up', () => before.received() === 'y');
  });

  it('cut resets open and new connections; resumed, connections work again', async () => {
    const before = await client(relay);
    relay.cut();
    await waitUntil('the open connection to be reset', () => before.closed());
    const during = await client(relay).catch(() => null);
    if (during !== null) await waitUntil('a new connection to be reset', () => during.closed());
    relay.resume();
    const after = await client(relay);
    after.socket.write('z');
    await waitUntil('the echo after resuming', () => after.received() === 'z');
  });

  it('close destroys every connection, even frozen ones', async () => {
    const c = await client(relay);
    relay.freeze();
    await withDeadline(relay.close(), 2000, 'the relay to close');
    await waitUntil('the client to see the close', () => c.closed());
    expect(relay.openConnections).toBe(0);
  });
});
