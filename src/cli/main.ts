#!/usr/bin/env node

/*
 * The `tessera` command (dist/tessera.mjs, the package's `bin`). This file and what it imports
 * stay small: commander, the typed client and the printing. The server and the store drivers
 * are in a second bundle, dist/server.cjs (run by dist/server.mjs), loaded only by `serve`,
 * `migrate` and `backup`, so `--help` and the remote commands start fast and touch nothing on
 * disk.
 *
 * Every failure ends as one line on stderr, `tessera: <message>`, and an exit code: 1 when the
 * command failed, 2 when it was called wrongly (commander's usage errors included).
 */

/** The package version, put in by the bundler (scripts/bundle.mjs). */
declare const TESSERA_VERSION: string | undefined;

const version = typeof TESSERA_VERSION === 'string' ? TESSERA_VERSION : '0.0.0-dev';

const fail = (message: string, exitCode: number) => {
  process.stderr.write(`tessera: ${message}\n`);
  process.exitCode = exitCode;
};

// Beside this file in dist/; a literal path the bundler would pull in, so it is built here.
const loadLocal = () => import(new URL('./server.mjs', import.meta.url).href);

/**
 * No arguments at all is `serve`: `npm start`, and service files written before the CLI, run
 * `node dist/tessera.mjs` as it is. It starts the server without loading the command line
 * (commander and the commands): about 10 ms of every start here. Anything else is parsed, so
 * `tessera --json` or a misspelt command is a usage error, never a server started by mistake.
 */
async function run(args: string[]): Promise<void> {
  if (args.length === 0) {
    await (await loadLocal()).serve();
    return;
  }
  const [{ CommanderError }, { buildProgram }] = await Promise.all([
    import('commander'),
    import('./program.js'),
  ]);
  try {
    await buildProgram({ version, env: process.env, loadLocal }).parseAsync(args, { from: 'user' });
  } catch (error) {
    // --help and --version "exit" with 0; a group named without its command shows its help: usage.
    if (error instanceof CommanderError) process.exitCode = error.exitCode === 0 ? 0 : 2;
    else throw error;
  }
}

try {
  await run(process.argv.slice(2));
} catch (error) {
  // Loaded by every command but `serve`, which never throws it.
  const { CliError } = await import('./connection.js');
  if (error instanceof CliError) {
    fail(error.message, error.exitCode);
  } else if (error instanceof Error && error.name === 'LocalFailure') {
    // Thrown in the other bundle (dist/server.cjs), whose classes are not this one's: known by name.
    fail(error.message.split('\n').join('\ntessera: '), 1);
  } else {
    fail(error instanceof Error ? error.message : String(error), 1);
  }
}
