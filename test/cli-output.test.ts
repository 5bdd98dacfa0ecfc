import { stripVTControlCharacters } from 'node:util';
import { describe, expect, it } from 'vitest';
import { colourWanted, createOutput, fields, table } from '../src/cli/output.js';

const terminal = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

describe('CLI output', () => {
  it('colour only on a terminal, and never with NO_COLOR set', () => {
    expect(colourWanted(terminal, {})).toBe(true);
    expect(colourWanted(terminal, { NO_COLOR: '1' })).toBe(false);
    // no-color.org: an empty NO_COLOR does not count.
    expect(colourWanted(terminal, { NO_COLOR: '' })).toBe(true);
    expect(colourWanted(pipe, {})).toBe(false);
  });

  it('a table aligns its columns by visible width, colour codes taking no room', () => {
    const coloured = createOutput(false, true);
    const lines = table(
      coloured,
      ['ID', 'STATUS', 'NOTE'],
      [
        ['a', coloured.paint('green', 'active'), 'x'],
        ['bbbb', coloured.paint('red', 'revoked'), 'y'],
      ],
      'none',
    );
    expect(lines[1]).toContain('\u001b[');
    const plain = lines.map((line) => stripVTControlCharacters(line));
    expect(plain).toEqual(['ID    STATUS   NOTE', 'a     active   x', 'bbbb  revoked  y']);
  });

  it('without colour, nothing but the text', () => {
    const plain = createOutput(false, false);
    expect(plain.paint('bold', 'x')).toBe('x');
    expect(table(plain, ['A'], [], 'no rows')).toEqual(['no rows']);
    expect(
      fields(plain, [
        ['id', '1'],
        ['longer', '2'],
      ]),
    ).toEqual(['id:     1', 'longer: 2']);
  });

  it('--json writes the value, not the lines', () => {
    let written = '';
    const output = createOutput(true, false, (text) => {
      written += text;
      return true;
    });
    output.result({ a: 1 }, () => ['never']);
    expect(JSON.parse(written)).toEqual({ a: 1 });
  });
});
