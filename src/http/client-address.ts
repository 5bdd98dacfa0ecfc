import type { IncomingMessage } from 'node:http';
import proxyAddr from '@fastify/proxy-addr';
import type { Config } from '../config.js';

/** Which proxy hops are trusted to name the client: by hop count, address list or all. */
export type TrustProxy = (address: string, hop: number) => boolean;

/**
 * TRUST_PROXY as one function, handed to Fastify (its `request.ip`) and used for requests
 * answered before Fastify sees them, so both read the same client address. Null trusts none.
 */
export function trustProxyFunction(trust: Config['trustProxy']): TrustProxy | null {
  if (trust === false) return null;
  if (trust === true) return () => true;
  // A hop count trusts that many proxies in front of us, nearest first.
  if (typeof trust === 'number') return (_address, hop) => hop < trust;
  return proxyAddr.compile(trust);
}

/** The client address of a raw request: the socket's peer, or the nearest untrusted hop. */
export function clientAddressOf(trust: TrustProxy | null): (request: IncomingMessage) => string {
  if (trust === null) return (request) => request.socket.remoteAddress ?? '';
  return (request) => proxyAddr(request, trust);
}
