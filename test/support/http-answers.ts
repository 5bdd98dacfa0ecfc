import { connect } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** Headers two ways of answering may differ in: a listening server adds them, `inject` does not. */
const CONNECTION_HEADERS = new Set(['date', 'connection', 'keep-alive', 'transfer-encoding']);

/** An answer's headers, but those of the connection, as one object. */
export function headersOf(entries: Iterable<[string, string]>): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const [name, value] of entries) if (!CONNECTION_HEADERS.has(name)) headers[name] = String(value);
  return headers;
}

/** The bytes of one answer over a fresh connection (`Connection: close`), its Date line cut. */
export function rawAnswer(address: string, path: string, headers: Record<string, string>): Promise<string> {
  const { hostname, port } = new URL(address);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname);
    let data = '';
    socket.setEncoding('latin1');
    socket.on('data', (chunk: string) => {
      data += chunk;
    });
    socket.on('end', () => resolve(data.replace(/^Date: [^\r]*\r\n/m, '')));
    socket.on('error', reject);
    const lines = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`);
    socket.write(`GET ${path} HTTP/1.1\r\nHost: tessera.test\r\n${lines.join('')}Connection: close\r\n\r\n`);
  });
}

/** What Fastify itself answers to a GET (`inject` never meets the fast answers). */
export async function viaFastify(app: FastifyInstance, path: string, headers: Record<string, string> = {}) {
  const response = await app.inject({ url: path, headers });
  return {
    status: response.statusCode,
    headers: headersOf(Object.entries(response.headers) as [string, string][]),
    body: response.body,
  };
}
