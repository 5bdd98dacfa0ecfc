import type { Socket } from 'node:net';

/** Counts the writes a socket hands to the operating system (one `_write` or `_writev` each). */
export function countWrites(stream: Socket): { writes: number; chunks: number } {
  const counts = { writes: 0, chunks: 0 };
  const internal = stream as unknown as {
    _write(chunk: unknown, encoding: string, done: () => void): void;
    _writev(chunks: unknown[], done: () => void): void;
  };
  const write = internal._write.bind(stream);
  const writev = internal._writev.bind(stream);
  internal._write = (chunk, encoding, done) => {
    counts.writes++;
    counts.chunks++;
    write(chunk, encoding, done);
  };
  internal._writev = (chunks, done) => {
    counts.writes++;
    counts.chunks += chunks.length;
    writev(chunks, done);
  };
  return counts;
}
