import type { IncomingMessage, RequestOptions } from 'node:http';
import { request as httpRequest } from 'node:http';

/*
 * The part of `fetch` the typed client uses (method, headers, a string body, a signal),
 * over node:http. Node's own fetch compiles its HTTP parser (WebAssembly) on first use: in a
 * command that makes one or two calls, that is most of its run time and memory (the README's
 * CLI section has the figures).
 * Failures look like fetch's: a TypeError with the system error as `cause`, or the signal's
 * reason (a TimeoutError) when it aborts.
 */

export const nodeFetch: typeof globalThis.fetch = async (input, init = {}) => {
  const url = new URL(typeof input === 'string' || input instanceof URL ? input : input.url);
  const request =
    url.protocol === 'https:'
      ? (await import('node:https')).request
      : url.protocol === 'http:'
        ? httpRequest
        : null;
  if (request === null) throw new TypeError(`fetch failed: unsupported protocol ${url.protocol}`);
  const signal = init.signal ?? undefined;
  signal?.throwIfAborted();
  const body = typeof init.body === 'string' ? init.body : undefined;
  const headers: Record<string, string> = Object.fromEntries(new Headers(init.headers).entries());
  // A length, as fetch sends it: without one the body goes chunked, which a server may refuse.
  if (body !== undefined) headers['content-length'] = String(Buffer.byteLength(body));
  const options: RequestOptions = {
    method: init.method ?? 'GET',
    headers,
    ...(signal === undefined ? {} : { signal }),
  };
  const response = await new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = request(url, options, resolve);
    outgoing.on('error', (error) => {
      reject(signal?.aborted === true ? signal.reason : new TypeError('fetch failed', { cause: error }));
    });
    outgoing.end(body);
  });
  const chunks: Buffer[] = [];
  for await (const chunk of response) chunks.push(chunk as Buffer);
  const answered = new Headers();
  for (const [name, value] of Object.entries(response.headers)) {
    for (const one of Array.isArray(value) ? value : value === undefined ? [] : [value])
      answered.append(name, one);
  }
  const status = response.statusCode ?? 0;
  // A Response cannot carry a body with these statuses.
  const empty = status === 204 || status === 304;
  return new Response(empty ? null : Buffer.concat(chunks), {
    status,
    statusText: response.statusMessage ?? '',
    headers: answered,
  });
};
