import { describe, expect, it } from 'vitest';
import { TurnBatch } from '../src/store/turn-batch.js';

/** A load that records the keys of each call and answers `value:<key>` for keys not in `missing`. */
function recordingLoad(missing: string[] = []) {
  const calls: string[][] = [];
  const load = async (keys: string[]) => {
    calls.push(keys);
    return new Map(keys.filter((key) => !missing.includes(key)).map((key) => [key, `value:${key}`]));
  };
  return { calls, load };
}

describe('TurnBatch', () => {
  it('answers the lookups of one turn with one load, each with its own value', async () => {
    const { calls, load } = recordingLoad(['b']);
    const batch = new TurnBatch(load);
    const answers = await Promise.all([batch.get('a'), batch.get('b'), batch.get('c')]);
    expect(answers).toEqual(['value:a', undefined, 'value:c']);
    expect(calls).toEqual([['a', 'b', 'c']]);
  });

  it('loads a key asked twice in one turn once, and gives both lookups its value', async () => {
    const { calls, load } = recordingLoad();
    const batch = new TurnBatch(load);
    expect(await Promise.all([batch.get('a'), batch.get('a'), batch.get('b')])).toEqual([
      'value:a',
      'value:a',
      'value:b',
    ]);
    expect(calls).toEqual([['a', 'b']]);
  });

  it('remembers nothing: the next turn loads again', async () => {
    const { calls, load } = recordingLoad();
    const batch = new TurnBatch(load);
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
    const batch = new TurnBatch(async (keys: string[]) => {
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

  it('fails every lookup of a batch whose load failed, and the next turn loads again', async () => {
    let fail = true;
    const batch = new TurnBatch(async (keys: string[]) => {
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
