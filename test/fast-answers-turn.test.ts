import type { IncomingMessage, RequestListener, ServerResponse } from 'node:http';
import { describe, expect, it } from 'vitest';
import type { Caller } from '../src/http/auth.js';
import { FastAnswers } from '../src/http/fast-answers.js';

// When the fast answers are written: the logic alone, on requests and responses that record
// what is written (test/fast-answers.test.ts drives the same class through a listening server).

const ADMIN: Caller = { via: 'key', session: null, apiKey: null };
const OBJECT = { type: 'object', properties: { id: { type: 'string' } } };
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function fastAnswers() {
  const errors: string[] = [];
  const fast = new FastAnswers({
    auth: { admitNow: () => ADMIN },
    recorderFor: () => () => {},
    requestLog: null,
    nextRequestId: () => 'req-1',
    clientAddress: () => '127.0.0.1',
    onError: (error, path) => errors.push(`${path}: ${String(error)}`),
  });
  fast.add({ path: '/now', requirement: 'admin', schema: OBJECT, answer: () => ({ id: 'now' }) });
  /** The reads in flight, each settled by the test. */
  const reads = new Map<string, (value: { id: string }) => void>();
  fast.addRead({
    prefix: '/read/',
    template: '/read/:id',
    requirement: 'admin',
    schema: OBJECT,
    match: (rest) => ({ id: rest }),
    read: ({ id }: { id: string }) =>
      id.startsWith('at-once')
        ? Promise.resolve({ id })
        : new Promise<{ id: string }>((resolve) => reads.set(id, resolve)),
  });
  const written: string[] = [];
  /** A GET of `url`; a broken response throws when its head is written. */
  const get = (url: string, broken = false): boolean => {
    const request = { method: 'GET', url, headers: {} } as IncomingMessage;
    const response = {
      writeHead: () => {
        if (broken) throw new Error('connection gone wrong');
        return response;
      },
      end: (body: string) => written.push(body),
    } as unknown as ServerResponse;
    const fastify: RequestListener = () => written.push(`fastify ${url}`);
    return fast.answer(request, response, fastify);
  };
  return { get, written, reads, errors };
}

describe('FastAnswers: when answers are written', () => {
  it("holds the answers made while a turn's requests are read, and writes them in the order they were made when it ends", async () => {
    const { get, written } = fastAnswers();
    expect(get('/now')).toBe(true);
    expect(get('/read/at-once-1')).toBe(true);
    expect(get('/now')).toBe(true);
    // The read has resolved (its promise jobs ran): still nothing is written.
    await Promise.resolve();
    await Promise.resolve();
    expect(written).toEqual([]);
    await nextTurn();
    // The read's answer was made after the second request's (in a promise job).
    expect(written).toEqual(['{"id":"now"}', '{"id":"now"}', '{"id":"at-once-1"}']);
  });

  it('writes an answer made after its turn ended at once, or with the newer turn holding its answers', async () => {
    const { get, written, reads } = fastAnswers();
    get('/read/slow-1');
    get('/read/slow-2');
    await nextTurn();
    expect(written).toEqual([]);
    // No turn holds answers: written as soon as the read resolves.
    reads.get('slow-1')?.({ id: 'slow-1' });
    await Promise.resolve();
    await Promise.resolve();
    expect(written).toEqual(['{"id":"slow-1"}']);
    // A newer turn holds its answers: the late one joins them.
    get('/now');
    reads.get('slow-2')?.({ id: 'slow-2' });
    await Promise.resolve();
    await Promise.resolve();
    expect(written).toEqual(['{"id":"slow-1"}']);
    await nextTurn();
    expect(written).toEqual(['{"id":"slow-1"}', '{"id":"now"}', '{"id":"slow-2"}']);
  });
});

it("FastAnswers: an answer that cannot be written is reported, and the turn's other answers are written", async () => {
  const { get, written, errors } = fastAnswers();
  get('/now');
  get('/now', true);
  get('/read/at-once-2');
  await nextTurn();
  expect(written).toEqual(['{"id":"now"}', '{"id":"at-once-2"}']);
  expect(errors).toEqual(['/now: Error: connection gone wrong']);
});
