import { Validator } from '@seriousme/openapi-schema-validator';
import type { FastifyInstance, InjectOptions, onResponseHookHandler, RouteOptions } from 'fastify';
import { describe, expect, it } from 'vitest';
import { StoreUnavailableError } from '../src/errors.js';
import type { Store } from '../src/store/types.js';
import { faultyStore } from './admin/failures.js';
import { ADMIN_KEY, bearer, login, useTestApps } from './support/app.js';
import { injectStream, isStreamingPath } from './support/routes.js';

const KEY = { 'x-admin-key': ADMIN_KEY };
const STORAGE = '/api/v1/session-storage';

interface Operation {
  responses: Record<string, { description: string; content?: Record<string, unknown> }>;
  summary?: string;
  description?: string;
}
type OpenApiDocument = { openapi: string; paths: Record<string, Record<string, Operation>> };

/** `/a/:id` as OpenAPI writes it, `/a/{id}`. */
const openApiPath = (url: string) => url.replace(/:([A-Za-z_]+)/g, '{$1}');

/**
 * Routes deliberately left out of the document: swagger-ui's own pages and assets, the admin
 * console's page and assets (a web page, not API), and the contract's doubled storage base,
 * served by the very same routes as the canonical one.
 */
const undocumented = (url: string) =>
  url === '/docs' ||
  url.startsWith('/docs/') ||
  url === '/' ||
  url.startsWith('/assets/') ||
  url.startsWith(`${STORAGE}${STORAGE}`);

async function documentOf(app: FastifyInstance): Promise<OpenApiDocument> {
  const response = await app.inject({ url: '/openapi.json' });
  expect(response.statusCode).toBe(200);
  return response.json() as OpenApiDocument;
}

describe('OpenAPI document', () => {
  const start = useTestApps();

  it('/openapi.json is a valid OpenAPI 3.1 document', async () => {
    const { app } = await start();
    const document = await documentOf(app);
    const validator = new Validator();
    const result = await validator.validate(document as unknown as Parameters<Validator['validate']>[0]);
    expect(result.errors ?? [], JSON.stringify(result.errors)).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe('3.1');
    expect(document.openapi).toBe('3.1.0');
  });

  it('every registered route is documented, with a summary, a description and a described answer', async () => {
    const routes: RouteOptions[] = [];
    const { app } = await start({ onRoute: (route) => void routes.push(route) });
    const document = await documentOf(app);
    const registered = routes
      .flatMap((route) => [route.method].flat().map((method) => ({ method, url: route.url })))
      // HEAD routes are made from GET routes; OpenAPI lists the GET.
      .filter(({ method, url }) => method !== 'HEAD' && !undocumented(url));
    expect(registered.map(({ url }) => url)).toEqual(
      expect.arrayContaining(['/healthz', '/readyz', '/metrics', '/openapi.json', '/api/admin/login']),
    );
    for (const { method, url } of registered) {
      const operation = document.paths[openApiPath(url)]?.[method.toLowerCase()];
      expect(operation, `${method} ${url} is not in the document`).toBeDefined();
      expect(operation?.summary, `${method} ${url} summary`).toBeTruthy();
      expect(operation?.description, `${method} ${url} description`).toBeTruthy();
      for (const [status, response] of Object.entries(operation?.responses ?? {})) {
        expect(response.description, `${method} ${url} ${status}`).not.toBe('Default Response');
      }
    }
    // And nothing documented that is not served.
    const documented = Object.entries(document.paths).flatMap(([path, operations]) =>
      Object.keys(operations).map((method) => `${method.toUpperCase()} ${path}`),
    );
    expect(new Set(documented)).toEqual(
      new Set(registered.map(({ method, url }) => `${method} ${openApiPath(url)}`)),
    );
  });

  it('failures name the codes the server uses for that status', async () => {
    const { app } = await start();
    const document = await documentOf(app);
    const codesOf = (path: string, method: string, status: string) => {
      const content = document.paths[path]?.[method]?.responses[status]?.content as
        | Record<string, { schema: { properties: { code: { enum: string[] } } } }>
        | undefined;
      return content?.['application/json']?.schema.properties.code.enum;
    };
    expect(codesOf('/api/admin/tokens/sessions/{jti}', 'delete', '404')).toEqual(['SESSION_NOT_FOUND']);
    expect(codesOf('/api/admin/login', 'post', '401')).toEqual(['INVALID_ADMIN_KEY']);
    expect(codesOf('/api/admin/session', 'get', '401')).toEqual(['UNAUTHORIZED', 'INVALID_ADMIN_KEY']);
    expect(codesOf('/api/admin/session', 'get', '403')).toEqual(['FORBIDDEN', 'FORBIDDEN_ORIGIN']);
    expect(codesOf(`${STORAGE}/{id}`, 'get', '500')).toEqual([
      'SEALING_KEY_MISSING',
      'TOKEN_UNREADABLE',
      'INTERNAL',
    ]);
    expect(codesOf('/api/admin/admin-key/rotate', 'post', '409')).toEqual(['ADMIN_KEY_FROM_ENV']);
  });

  it('the login body is {adminKey}, optional; security schemes cover the key, sessions, the cookie and API keys', async () => {
    const { app } = await start();
    const document = (await documentOf(app)) as OpenApiDocument & {
      components: { securitySchemes: Record<string, Record<string, string>> };
    };
    const login = document.paths['/api/admin/login']?.post as Operation & {
      requestBody: { required: boolean; content: Record<string, { schema: { properties: object } }> };
    };
    expect(Object.keys(login.requestBody.content['application/json']?.schema.properties ?? {})).toEqual([
      'adminKey',
    ]);
    expect(login.requestBody.required).toBe(false);
    const schemes = document.components.securitySchemes;
    expect(schemes.adminKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-admin-key' });
    expect(schemes.session).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'JWT' });
    expect(schemes.sessionCookie).toMatchObject({ type: 'apiKey', in: 'cookie', name: 'tessera_session' });
    expect(schemes.apiKey).toMatchObject({ type: 'http', scheme: 'bearer', bearerFormat: 'tsk_...' });
  });

  it('/docs serves swagger-ui from bundled assets, with no CDN', async () => {
    const { app } = await start();
    const page = await app.inject({ url: '/docs/' });
    const html =
      page.statusCode === 302 ? (await app.inject({ url: page.headers.location ?? '' })).body : page.body;
    expect(html).toContain('swagger-ui');
    expect(html).not.toMatch(/https?:\/\/(?!localhost)[a-z0-9.-]+\/[^"']*\.(js|css)/);
    const script = await app.inject({ url: '/docs/static/swagger-ui-bundle.js' });
    expect(script.statusCode).toBe(200);
    // swagger-ui is loaded on the first request to /docs, over the same document.
    expect((await app.inject({ url: '/docs/json' })).json()).toEqual(await documentOf(app));
    const missing = await app.inject({ url: '/docs/static/missing.js' });
    expect(missing.statusCode).toBe(404);
    expect(missing.json()).toMatchObject({ success: false, code: 'NOT_FOUND' });
  });
});

/**
 * Each route's failure modes, exercised through `app.inject`; every (route, method, status)
 * the app answered with must be documented for that route.
 */
describe('OpenAPI document: every answer observed is documented', () => {
  const start = useTestApps();

  it('success and each failure mode of every route', async () => {
    const observed = new Set<string>();
    const recorders = new WeakSet<onResponseHookHandler>();
    let fail: ((method: keyof Store, error: Error) => void) | undefined;
    const { app } = await start({
      adminKeyFromEnvironment: true,
      config: {
        throttle: {
          maxFailures: 3,
          windowMs: 60_000,
          globalMaxFailures: 100_000,
          firstLockoutMs: 60_000,
          maxLockoutMs: 60_000,
        },
      },
      wrapStore: (store) => {
        const faulty = faultyStore(store);
        fail = faulty.fail as typeof fail;
        return faulty.store;
      },
      onRoute: (route) => {
        const hooks = route.onResponse === undefined ? [] : [route.onResponse].flat();
        if (hooks.some((hook) => recorders.has(hook as onResponseHookHandler))) return;
        const record: onResponseHookHandler = (request, reply, done) => {
          observed.add(`${request.method} ${openApiPath(route.url)} ${reply.statusCode}`);
          done();
        };
        recorders.add(record);
        route.onResponse = [...hooks, record];
      },
    });
    const document = await documentOf(app);
    const operations = Object.entries(document.paths).flatMap(([path, byMethod]) =>
      Object.keys(byMethod).map((method) => ({ path, method: method.toUpperCase() })),
    );

    // What to put in each path parameter and body for the request to succeed.
    const { token } = await login(app);
    const other = await login(app);
    const created = await app.inject({
      method: 'POST',
      url: STORAGE,
      headers: KEY,
      payload: {
        user_id: 'usr_9a2f31',
        token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
        expires_at: '2026-03-27T08:00:00Z',
      },
    });
    const storedId = (created.json() as { id: string }).id;
    const newKey = async (scopes: string[]) => {
      const response = await app.inject({
        method: 'POST',
        url: '/api/admin/api-keys',
        headers: KEY,
        payload: { name: 'app', scopes },
      });
      return response.json() as { id: string; key: string };
    };
    const storageReader = await newKey(['storage:read']);
    const sessionReader = await newKey(['sessions:read']);
    const doomedKey = await newKey(['storage:read']);
    const urlOf = (path: string) =>
      path
        .replace('{jti}', other.jti)
        .replace('{id}', path.startsWith('/api/admin/api-keys') ? doomedKey.id : storedId);
    const bodyOf = (path: string, method: string): InjectOptions['payload'] | undefined => {
      if (path === STORAGE && method === 'POST')
        return {
          user_id: 'usr_9a2f31',
          token: 'eyJhbGciOiJIUzI1NiJ9.e30.c2ln',
          expires_at: '2026-03-27T08:00:00Z',
        };
      if (path === `${STORAGE}/{id}` && method === 'PUT') return { expires_at: '2026-03-27T09:00:00Z' };
      if (path === '/api/admin/api-keys' && method === 'POST')
        return { name: 'app', scopes: ['storage:read'] };
      return undefined;
    };
    const send = async (path: string, method: string, options: Omit<InjectOptions, 'url' | 'method'>) => {
      const request = { method: method as 'GET', url: urlOf(path), ...options };
      if (method !== 'GET' || !isStreamingPath(path)) return app.inject(request);
      return injectStream(app, request);
    };
    const hasBody = (method: string) => method !== 'GET';
    // Destructive successes last, so the other requests still find what they need.
    const order = ({ path, method }: { path: string; method: string }) =>
      path.includes('revoke') || path.includes('logout') || (path === STORAGE && method === 'DELETE') ? 1 : 0;
    operations.sort((a, b) => order(a) - order(b));

    let wrongKeys = 0;
    for (const { path, method } of operations) {
      const body = bodyOf(path, method);
      await send(path, method, {});
      await send(path, method, { headers: bearer(storageReader.key) });
      await send(path, method, { headers: bearer(sessionReader.key) });
      // Each wrong key from an address of its own: this loop must not lock itself out.
      await send(path, method, {
        headers: { 'x-admin-key': 'not-the-admin-key-0123456789' },
        remoteAddress: `10.0.0.${++wrongKeys}`,
      });
      await send(path, method, { headers: bearer('not.a.session') });
      await send(path, method, {
        headers: { cookie: `tessera_session=${token}`, origin: 'https://evil.example' },
      });
      await send(path, method, { headers: KEY, query: { unexpected: 'x' } });
      if (path.includes('{')) {
        await app.inject({
          method: method as 'GET',
          url: path.replace(/\{[a-z]+\}/, 'no-such-thing_0000'),
          headers: KEY,
          ...(body === undefined ? {} : { payload: body }),
        });
      }
      if (hasBody(method)) {
        const json = { ...KEY, 'content-type': 'application/json' };
        await send(path, method, { headers: json, payload: '{' });
        await send(path, method, { headers: json, payload: JSON.stringify({ x: 'y'.repeat(70 * 1024) }) });
        await send(path, method, { headers: { ...KEY, 'content-type': 'text/plain' }, payload: 'hello' });
        await send(path, method, { headers: json, payload: JSON.stringify({ unexpected: true }) });
      }
      await send(path, method, { headers: KEY, ...(body === undefined ? {} : { payload: body }) });
    }
    // A locked-out address: 429 on every authenticated route.
    const locked = { remoteAddress: '198.51.100.9' };
    for (let i = 0; i < 4; i++) {
      await app.inject({
        url: '/api/admin/session',
        headers: { 'x-admin-key': 'wrong-key-0123456789' },
        ...locked,
      });
    }
    for (const { path, method } of operations) {
      await send(path, method, { headers: KEY, ...locked });
    }
    // The store gone: 503 wherever the store is read.
    const unavailable = new StoreUnavailableError('sqlite');
    for (const method of [
      'ping',
      'listSessions',
      'listStoredTokens',
      'findCurrentStoredToken',
      'listAudit',
      'listApiKeys',
      'getSessionVersion',
      'bumpSessionVersion',
      'findStoredToken',
      'clearStoredTokens',
      'insertStoredToken',
      'revokeOtherSessions',
    ] as const) {
      fail?.(method, unavailable);
    }
    for (const { path, method } of operations) {
      const body = bodyOf(path, method);
      await send(path, method, { headers: KEY, ...(body === undefined ? {} : { payload: body }) });
    }

    const documented = new Set(
      Object.entries(document.paths).flatMap(([path, byMethod]) =>
        Object.entries(byMethod).flatMap(([method, operation]) =>
          Object.keys(operation.responses).map((status) => `${method.toUpperCase()} ${path} ${status}`),
        ),
      ),
    );
    const undocumentedAnswers = [...observed].filter(
      (answer) => !documented.has(answer) && !undocumented(answer.split(' ')[1] ?? ''),
    );
    expect(undocumentedAnswers).toEqual([]);
    // The run really met each kind of answer.
    const statuses = new Set([...observed].map((answer) => answer.split(' ')[2]));
    expect(statuses).toEqual(
      new Set(['200', '201', '400', '401', '403', '404', '409', '413', '415', '429', '503']),
    );
  });
});
