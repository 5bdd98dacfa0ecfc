import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { useTestApps } from './support/app.js';
import { withDeadline } from './support/wait.js';

/** Sends `raw` to the app's loopback port and reads the answer until the server closes. */
async function exchange(port: number, raw: string): Promise<{ head: string[]; body: string }> {
  const socket = connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    received += chunk;
  });
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.write(raw);
  await withDeadline(closed, 5000, 'the server to answer and close');
  const [head = '', body = ''] = received.split('\r\n\r\n');
  return { head: head.split('\r\n'), body };
}

describe('requests Node cannot parse, on a listening server', () => {
  const startApp = useTestApps();

  it('a malformed header line or an unknown method is 400, with nosniff like every other response', async () => {
    const t = await startApp();
    await t.app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = t.app.server.address() as { port: number };
    for (const raw of [
      'GET /healthz HTTP/1.1\r\nHost: x\r\nNot a header\r\n\r\n',
      'BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n',
    ]) {
      const { head, body } = await exchange(port, raw);
      expect(head[0], raw).toBe('HTTP/1.1 400 Bad Request');
      expect(
        head.map((line) => line.toLowerCase()),
        raw,
      ).toContain('x-content-type-options: nosniff');
      expect(
        head.some((line) => line.toLowerCase().startsWith('x-powered-by')),
        raw,
      ).toBe(false);
      expect(JSON.parse(body), raw).toEqual({
        error: 'Bad Request',
        message: 'Client Error',
        statusCode: 400,
      });
    }
  });
});
