import { describe, expect, it } from 'vitest';
import { currentReadsOfTurn, pagesOfTurn, TurnBatch } from '../src/store/turn-batch.js';
import type { StoredTokenQuery } from '../src/store/types.js';

/** A load that records the keys of each call and answers `value:<key>` for keys not in `missing`. */
function recordingLoad(missing: string[] = []) {
  const calls: string[][] = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    return new Map(keys.filter((key) => !missing.includes(key)).map((key) => [key, `value:${key}`]));
  };
  return { calls, load };
}

describe('TurnBatch.ofBatches', () => {
  it('answers the lookups of one turn with one load, each with its own value', async () => {
    const { calls, load } = recordingLoad(['b']);
    const batch = TurnBatch.ofBatches(load);
    const answers = await Promise.all([batch.get('a'), batch.get('b'), batch.get('c')]);
    expect(answers).toEqual(['value:a', undefined, 'value:c']);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('loads a key asked twice in one turn once, and gives both lookups its value', async () => {
    const { calls, load } = recordingLoad();
    const batch = TurnBatch.ofBatches(load);
    expect(await Promise.all([batch.get('a'), batch.get('a'), batch.get('b')])).toEqual([
      'value:a',
      'value:a',
      'value:b',
    ]);
    expect(calls).toEqual([['a', 'b']]);
  });

  it("gives the load every lookup's own value, one per lookup, the keys each once", async () => {
    const seen: { keys: string[]; args: (string | undefined)[] }[] = [];
    const batch = TurnBatch.ofBatches<string, string | undefined>(async (keys, args) => {
      seen.push({ keys, args });
      return new Map(keys.map((key) => [key, `value:${key}`]));
    });
    const answers = await Promise.all([batch.get('a', 'entry 1'), batch.get('b'), batch.get('a', 'entry 2')]);
    expect(answers).toEqual(['value:a', 'value:b', 'value:a']);
    expect(seen).toHaveLength(1);
    expect(seen[0]?.keys).toEqual(['a', 'b']);
    expect([...(seen[0]?.args ?? [])].sort()).toEqual(['entry 1', 'entry 2', undefined]);
  });

  it('remembers nothing: the next turn loads again', async () => {
    const { calls, load } = recordingLoad();
    const batch = TurnBatch.ofBatches(load);
    await batch.get('a');
    await batch.get('a');
    expect(calls).toEqual([['a'], ['a']]);
  });

  it('starts a new batch for lookups made while a load is under way', async () => {
    const calls: string[][] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const batch = TurnBatch.ofBatches(async (keys: string[]) => {
      calls.push(keys);
      await gate;
      return new Map(keys.map((key) => [key, key.toUpperCase()]));
    });
    const first = batch.get('a');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([['a']]);
    const second = batch.get('b');
    await new Promise((resolve) => setImmediate(resolve));
    expect(calls).toEqual([['a'], ['b']]);
    release();
    expect(await Promise.all([first, second])).toEqual(['A', 'B']);
  });

  it('with inFlight 1: lookups of the turns that end while a load runs go together in the next, once it settles', async () => {
    const calls: string[][] = [];
    const gates: (() => void)[] = [];
    const batch = TurnBatch.ofBatches(
      async (keys: string[]) => {
        calls.push(keys);
        await new Promise<void>((resolve) => gates.push(resolve));
        return new Map(keys.map((key) => [key, key.toUpperCase()]));
      },
      { inFlight: 1 },
    );
    const turn = () => new Promise((resolve) => setImmediate(resolve));
    const first = batch.get('a');
    await turn();
    expect(calls).toEqual([['a']]);
    // Three turns' lookups while the first load runs: none starts a load of its own.
    const held = [batch.get('b')];
    await turn();
    held.push(batch.get('c'), batch.get('b'));
    await turn();
    held.push(batch.get('d'));
    await turn();
    expect(calls).toEqual([['a']]);
    gates.shift()?.();
    expect(await first).toBe('A');
    await turn();
    expect(calls).toEqual([['a'], ['b', 'c', 'd']]);
    // A lookup made while the second load runs waits for it too.
    const after = batch.get('e');
    await turn();
    expect(calls).toHaveLength(2);
    gates.shift()?.();
    expect(await Promise.all(held)).toEqual(['B', 'C', 'B', 'D']);
    await turn();
    expect(calls).toEqual([['a'], ['b', 'c', 'd'], ['e']]);
    gates.shift()?.();
    expect(await after).toBe('E');
  });

  it('with inFlight 1: a failed load lets the held lookups load, and gives the load when the first of them was made', async () => {
    const sinces: number[] = [];
    let fail = true;
    let release: () => void = () => undefined;
    const batch = TurnBatch.ofBatches(
      async (keys: string[], _args: undefined[], since: number) => {
        sinces.push(since);
        await new Promise<void>((resolve) => {
          release = resolve;
        });
        if (fail) throw new Error('store down');
        return new Map(keys.map((key) => [key, key]));
      },
      { inFlight: 1 },
    );
    const before = performance.now();
    const first = batch.get('a');
    await new Promise((resolve) => setImmediate(resolve));
    const heldAt = performance.now();
    const held = batch.get('b');
    await new Promise((resolve) => setTimeout(resolve, 30));
    release();
    await expect(first).rejects.toThrow('store down');
    fail = false;
    await new Promise((resolve) => setImmediate(resolve));
    release();
    expect(await held).toBe('b');
    expect(sinces).toHaveLength(2);
    expect(sinces[0]).toBeGreaterThanOrEqual(before);
    // The held batch's time is when its lookup was made, not when its load began (30 ms later).
    expect(sinces[1]).toBeGreaterThanOrEqual(heldAt);
    expect(sinces[1]).toBeLessThan(heldAt + 25);
  });

  it('refuses an inFlight that is not a whole number of at least 1 (or Infinity)', () => {
    const load = async () => new Map<string, string>();
    for (const inFlight of [0, -1, 1.5, Number.NaN])
      expect(() => TurnBatch.ofBatches(load, { inFlight })).toThrow(RangeError);
    expect(() => TurnBatch.ofBatches(load, { inFlight: 2 })).not.toThrow();
    expect(() => TurnBatch.ofBatches(load, { inFlight: Number.POSITIVE_INFINITY })).not.toThrow();
  });

  it('fails every lookup of a batch whose load failed, and the next turn loads again', async () => {
    let fail = true;
    const batch = TurnBatch.ofBatches(async (keys: string[]) => {
      if (fail) throw new Error('store down');
      return new Map(keys.map((key) => [key, key]));
    });
    const results = await Promise.allSettled([batch.get('a'), batch.get('b')]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'rejected']);
    expect(results.map((result) => (result.status === 'rejected' ? String(result.reason) : ''))).toEqual([
      'Error: store down',
      'Error: store down',
    ]);
    fail = false;
    expect(await batch.get('a')).toBe('a');
  });
});

describe('TurnBatch.ofKeys', () => {
  it('reads each distinct key of a turn once, and lookups of one key share its answer', async () => {
    const reads: string[] = [];
    const batch = TurnBatch.ofKeys(async (key: string) => {
      reads.push(key);
      return `value:${key}`;
    });
    expect(await Promise.all([batch.get('a'), batch.get('b'), batch.get('a')])).toEqual([
      'value:a',
      'value:b',
      'value:a',
    ]);
    expect(reads).toEqual(['a', 'b']);
  });

  it("fails only the failed key's lookups, including a read that throws at once", async () => {
    const batch = TurnBatch.ofKeys((key: string) => {
      if (key === 'throws') throw new Error('thrown at once');
      if (key === 'rejects') return Promise.reject(new Error('rejected'));
      return Promise.resolve(`value:${key}`);
    });
    const results = await Promise.allSettled([
      batch.get('a'),
      batch.get('throws'),
      batch.get('rejects'),
      batch.get('rejects'),
    ]);
    expect(
      results.map((result) => (result.status === 'fulfilled' ? result.value : String(result.reason))),
    ).toEqual(['value:a', 'Error: thrown at once', 'Error: rejected', 'Error: rejected']);
  });
});

it('TurnBatch.ofBatches: a load that throws at once fails its lookups, and nothing else', async () => {
  const batch = TurnBatch.ofBatches((_keys: string[]): Promise<Map<string, string>> => {
    throw new Error('thrown at once');
  });
  await expect(batch.get('a')).rejects.toThrow('thrown at once');
});

describe('currentReadsOfTurn', () => {
  it('reads once per millisecond and user of a turn; no user is apart from every user id', async () => {
    const reads: [number, string | undefined][] = [];
    const current = currentReadsOfTurn(async (nowMs: number, userId: string | undefined) => {
      reads.push([nowMs, userId]);
      return { nowMs, userId };
    });
    const [none, noneAgain, named, nullNamed, later] = await Promise.all([
      current(1, undefined),
      current(1, undefined),
      current(1, 'usr_1'),
      current(1, 'null'),
      current(2, 'usr_1'),
    ]);
    expect(noneAgain).toBe(none);
    expect([none, named, nullNamed, later]).toEqual([
      { nowMs: 1, userId: undefined },
      { nowMs: 1, userId: 'usr_1' },
      { nowMs: 1, userId: 'null' },
      { nowMs: 2, userId: 'usr_1' },
    ]);
    expect(reads).toEqual([
      [1, undefined],
      [1, 'usr_1'],
      [1, 'null'],
      [2, 'usr_1'],
    ]);
    // The next turn reads again.
    await current(1, undefined);
    expect(reads).toHaveLength(5);
  });

  it("a failed read fails only its own user's lookups", async () => {
    const current = currentReadsOfTurn((_nowMs: number, userId: string | undefined) =>
      userId === 'usr_failing' ? Promise.reject(new Error('store read failed')) : Promise.resolve(userId),
    );
    const results = await Promise.allSettled([
      current(1, 'usr_failing'),
      current(1, 'usr_1'),
      current(1, 'usr_failing'),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
    expect(results[1]).toMatchObject({ value: 'usr_1' });
  });
});

describe('TurnBatch.ofKeys with what each lookup brings', () => {
  it("gives a key's read every lookup's value, in the order made; other keys' apart", async () => {
    const reads: [string, string[]][] = [];
    const batch = TurnBatch.ofKeys<string, string>(async (key, args) => {
      reads.push([key, args]);
      return `${key}:${args.length}`;
    });
    const answers = await Promise.all([batch.get('a', 'e1'), batch.get('b', 'e2'), batch.get('a', 'e3')]);
    expect(answers).toEqual(['a:2', 'b:1', 'a:2']);
    expect(reads).toEqual([
      ['a', ['e1', 'e3']],
      ['b', ['e2']],
    ]);
  });
});

describe('pagesOfTurn', () => {
  const page = (overrides: Partial<StoredTokenQuery> = {}): StoredTokenQuery => ({
    offset: 50,
    limit: 50,
    nowMs: 1,
    ...overrides,
  });

  it('reads one page once per turn; another page, user or filter reads apart; the time counts only to a validity filter', async () => {
    const reads: StoredTokenQuery[] = [];
    const pages = pagesOfTurn(async (query) => {
      reads.push(query);
      return { ...query };
    });
    const [first, again, otherMs, otherPage, user, valid, validLater] = await Promise.all([
      pages(page()),
      pages(page()),
      pages(page({ nowMs: 2 })),
      pages(page({ offset: 100 })),
      pages(page({ userId: 'usr_1' })),
      pages(page({ valid: true })),
      pages(page({ valid: true, nowMs: 2 })),
    ]);
    expect(again).toBe(first);
    // Without a validity filter the page is the same at any millisecond.
    expect(otherMs).toBe(first);
    expect(new Set([first, otherPage, user, valid, validLater]).size).toBe(5);
    expect(reads).toEqual([
      page(),
      page({ offset: 100 }),
      page({ userId: 'usr_1' }),
      page({ valid: true }),
      page({ valid: true, nowMs: 2 }),
    ]);
    // Nothing is kept: the next turn reads again.
    expect(await pages(page())).not.toBe(first);
    expect(reads).toHaveLength(6);
  });

  it("a failed read fails only its own page's requests", async () => {
    const pages = pagesOfTurn((query) =>
      query.offset === 0 ? Promise.reject(new Error('store read failed')) : Promise.resolve(query.offset),
    );
    const results = await Promise.allSettled([
      pages(page({ offset: 0 })),
      pages(page()),
      pages(page({ offset: 0 })),
    ]);
    expect(results.map((result) => result.status)).toEqual(['rejected', 'fulfilled', 'rejected']);
  });
});
