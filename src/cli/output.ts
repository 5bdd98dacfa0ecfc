import { inspect, stripVTControlCharacters } from 'node:util';

/*
 * What the CLI prints: tables and key-value lists for people, JSON for scripts (`--json`),
 * and failures as one line on stderr. Colour only on a terminal, and never with NO_COLOR set
 * (https://no-color.org): a pipe or a log file gets plain text.
 */

type Style = 'bold' | 'dim' | 'green' | 'red' | 'yellow';

/**
 * ANSI codes from node's own table. Not util.styleText: later Node 20 releases make it check
 * stdout themselves, and the CLI decides once, in colourWanted.
 */
function styled(style: Style, text: string): string {
  const [open, close] = inspect.colors[style] ?? [0, 0];
  return `\u001b[${open}m${text}\u001b[${close}m`;
}

export interface Output {
  json: boolean;
  /** Writes `value` as JSON (`--json`), or `human()`'s lines otherwise. */
  result(value: unknown, human: () => string[]): void;
  /** `text` in `style` when colour is on, as is otherwise. */
  paint(style: Style, text: string): string;
}

export function colourWanted(stream: NodeJS.WriteStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR ?? '') === '';
}

export function createOutput(
  json: boolean,
  colour: boolean,
  write = (text: string) => process.stdout.write(text),
): Output {
  return {
    json,
    result(value, human) {
      write(
        json
          ? `${JSON.stringify(value, null, 2)}\n`
          : human()
              .map((line) => `${line}\n`)
              .join(''),
      );
    },
    paint: (style, text) => (colour ? styled(style, text) : text),
  };
}

/** The visible width of a cell (colour codes take no room). */
const width = (text: string) => stripVTControlCharacters(text).length;

/**
 * Rows under a header, each column as wide as its widest cell. `empty` stands in for a table
 * with no rows, so a person sees that the answer was "none" rather than nothing.
 */
export function table(output: Output, header: string[], rows: string[][], empty: string): string[] {
  if (rows.length === 0) return [empty];
  const widths = header.map((title, column) =>
    Math.max(width(title), ...rows.map((row) => width(row[column] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((cell, column) =>
        column === cells.length - 1 ? cell : cell + ' '.repeat((widths[column] ?? 0) - width(cell)),
      )
      .join('  ');
  return [output.paint('bold', line(header)), ...rows.map(line)];
}

/** `name: value` lines, the names aligned. */
export function fields(output: Output, pairs: [string, string][]): string[] {
  const longest = Math.max(...pairs.map(([name]) => name.length));
  return pairs.map(([name, value]) => `${output.paint('dim', `${name}:`.padEnd(longest + 1))} ${value}`);
}

/** A value that may be missing, as a table shows it. */
export const orDash = (value: string | number | null | undefined) =>
  value === null || value === undefined || value === '' ? '-' : String(value);

/** Seconds since the epoch as RFC 3339 (UTC, whole seconds), as the API writes its dates. */
export const fromEpochSeconds = (seconds: number) =>
  new Date(seconds * 1000).toISOString().replace('.000Z', 'Z');
