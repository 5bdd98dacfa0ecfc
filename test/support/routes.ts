import type { FastifyInstance, HTTPMethods, InjectOptions, LightMyRequestResponse } from 'fastify';

/** One method on one route pattern, as registered (`/api/v1/session-storage/:id`, `/docs/*`). */
export interface RegisteredRoute {
  method: HTTPMethods;
  /** The pattern: `:name` for a parameter, `*` for a wildcard. */
  path: string;
}

/**
 * Every route the app serves, read from the app itself, so a route added later is found
 * without a test naming it. Fastify lists its routes only as its radix tree (`printRoutes`),
 * one node a line, each segment indented under its parent and completing the parent's path,
 * with the methods it serves (none for a node that is only a shared prefix):
 *
 *         └── revoke (POST)
 *             └── -others (POST)
 *
 * (The `commonPrefix: false` form is not used: it drops prefix-only nodes, and a wildcard
 * under one then reads as the wrong path.) Each route read is checked with `hasRoute`, so a
 * misread tree fails here, never silently.
 */
export async function registeredRoutes(app: FastifyInstance): Promise<RegisteredRoute[]> {
  await app.ready();
  const routes: RegisteredRoute[] = [];
  const parents: string[] = [];
  for (const line of app.printRoutes().split('\n')) {
    const node = /^([│ ]*)(?:├── |└── )(.*?)(?: \(([A-Z, ]+)\))?$/.exec(line);
    if (node === null) {
      if (line.trim() !== '')
        throw new Error(`registeredRoutes: cannot read the route line ${JSON.stringify(line)}`);
      continue;
    }
    const depth = (node[1] ?? '').length / 4;
    const path = `${parents[depth - 1] ?? ''}${node[2] ?? ''}`;
    parents[depth] = path;
    parents.length = depth + 1;
    for (const method of (node[3] ?? '').split(',').map((m) => m.trim())) {
      if (method === '') continue;
      routes.push({ method: method as HTTPMethods, path });
    }
  }
  for (const route of routes) {
    if (!app.hasRoute({ method: route.method, url: route.path })) {
      throw new Error(`registeredRoutes: read ${route.method} ${route.path}, which the app does not have`);
    }
  }
  return routes;
}

/** The routes of the app's OpenAPI document, as `METHOD /path/:param`. */
export function documentedRoutes(app: FastifyInstance): string[] {
  const paths = (app.swagger() as { paths?: Record<string, Record<string, unknown>> }).paths ?? {};
  return Object.entries(paths).flatMap(([path, operations]) =>
    Object.keys(operations).map((method) => `${method.toUpperCase()} ${path.replace(/\{(\w+)\}/g, ':$1')}`),
  );
}

/**
 * Routes anyone may call: liveness, readiness, the API document and its viewer, and the admin
 * console's page and assets (it signs in through the API like any client).
 */
const PUBLIC_PATHS = [
  /^\/healthz$/,
  /^\/readyz$/,
  /^\/openapi\.json$/,
  /^\/docs(\/|$)/,
  /^\/$/,
  /^\/assets\//,
];
export const isPublicPath = (path: string): boolean => PUBLIC_PATHS.some((p) => p.test(path));
export const isPublicRoute = (route: RegisteredRoute): boolean => isPublicPath(route.path);

/** Routes whose answer does not end by itself (Server-Sent Events): read them as a stream. */
const STREAMING_PATHS = [/^\/api\/admin\/events$/];
export const isStreamingPath = (path: string): boolean => STREAMING_PATHS.some((p) => p.test(path));

/**
 * A streaming route's answer never ends while it is good: it is read up to its first event (a
 * refusal, to its end), then dropped; the app's close ends the stream on the server.
 */
export async function injectStream(
  app: FastifyInstance,
  request: InjectOptions,
): Promise<{ statusCode: number; headers: LightMyRequestResponse['headers']; body: string }> {
  const response = await app.inject({ ...request, payloadAsStream: true });
  const stream = response.stream();
  let body = '';
  for await (const chunk of stream) {
    body += String(chunk);
    if (response.statusCode < 300 && body.includes('\n\n')) break;
  }
  stream.destroy();
  return { statusCode: response.statusCode, headers: response.headers, body };
}

/** The one route that takes the admin key itself (header or body) rather than a caller's credential. */
export const LOGIN_PATH = '/api/admin/login';

/**
 * Routes that resolve the caller from a credential (admin key, bearer session or cookie): every
 * route that is neither public nor the login. A route added later is one of them unless it is
 * listed as public above.
 */
export const takesCredential = (route: RegisteredRoute): boolean =>
  !isPublicRoute(route) && route.path !== LOGIN_PATH;

/** A URL for the route: each `:param` from `params` (default a 24-character jti-like id), `*` as `x`. */
export function urlOf(route: RegisteredRoute, params: Record<string, string> = {}): string {
  return route.path
    .replace(/:(\w+)/g, (_match, name: string) =>
      encodeURIComponent(params[name] ?? 'AAAAAAAAAAAAAAAAAAAAAAAA'),
    )
    .replace('*', 'x');
}
