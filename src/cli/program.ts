import { Command, InvalidArgumentError, Option } from 'commander';
import { SESSION_STATUSES } from '../admin/session-status.js';
import { AUDIT_ACTIONS } from '../audit/audit-log.js';
import type { ApiKeyScope, AuditAction, SessionStatus } from '../client/index.js';
import { API_KEY_SCOPES } from '../store/types.js';
import * as admin from './admin-commands.js';
import type { Connection, ConnectionOptions } from './connection.js';
import { CliError, connect, DEFAULT_URL, describeApiError, TesseraApiError } from './connection.js';
import type { Output } from './output.js';
import { colourWanted, createOutput } from './output.js';
import { status } from './status.js';
import * as storage from './storage-commands.js';

/*
 * The `tessera` command line: which commands exist, their arguments and help. What a command
 * does is in admin-commands.ts, storage-commands.ts, status.ts (through the typed client) and
 * local.ts (the server itself, and the store opened directly).
 */

/** What the program needs from its surroundings; main.ts passes the real ones. */
export interface ProgramContext {
  version: string;
  env: NodeJS.ProcessEnv;
  /** Loads dist/server.mjs (which runs local.ts's bundle): only `serve`, `migrate` and `backup` need it. */
  loadLocal: () => Promise<typeof import('./local.js')>;
}

interface GlobalOptions extends ConnectionOptions {
  json?: boolean;
}

const KEY_WARNING = 'visible to other users in `ps`: prefer the environment variable';

function positiveInteger(value: string): number {
  if (!/^[1-9][0-9]*$/.test(value)) throw new InvalidArgumentError('must be a positive integer');
  return Number(value);
}

/** `--scope a --scope b,c`: every scope given, each one known. */
function collectScopes(value: string, previous: ApiKeyScope[] = []): ApiKeyScope[] {
  const scopes = value.split(',').filter((scope) => scope !== '');
  const unknown = scopes.filter((scope) => !(API_KEY_SCOPES as readonly string[]).includes(scope));
  if (unknown.length > 0) {
    throw new InvalidArgumentError(
      `unknown scope ${unknown.join(', ')}; scopes are ${API_KEY_SCOPES.join(', ')}`,
    );
  }
  return [...previous, ...(scopes as ApiKeyScope[])];
}

export function buildProgram(context: ProgramContext): Command {
  const program = new Command('tessera')
    .description(
      'Admin sessions and sealed session-token storage.\n' +
        'Without arguments, runs `serve` (what `npm start` does).\n\n' +
        'Remote commands talk to a running server: TESSERA_URL (default ' +
        `${DEFAULT_URL}) with ADMIN_KEY, or TESSERA_API_KEY for an API key.\n` +
        'Exit codes: 0 done, 1 failed, 2 wrong usage.',
    )
    .version(context.version, '-V, --version', 'print the version')
    .helpOption('-h, --help', 'print help (touches nothing)')
    .helpCommand(false)
    .option('--json', 'print the answer as JSON, for scripts')
    .option('--url <url>', `the server (default: TESSERA_URL, then ${DEFAULT_URL})`)
    .option('--admin-key <key>', `the admin key (default: ADMIN_KEY); ${KEY_WARNING}`)
    .option('--api-key <key>', `an API key, tsk_... (default: TESSERA_API_KEY); ${KEY_WARNING}`)
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .showSuggestionAfterError(true)
    // Inherited by every command added below: failures are thrown to main.ts, which picks
    // the exit code, and commander's usage errors print in the CLI's one-line form.
    .exitOverride()
    .configureOutput({
      outputError: (text, write) =>
        write(`tessera: ${text.replace(/^error: /, '').replace(/\n(?=\(Did you mean)/, ' ')}`),
    });

  /** The action of a remote command: connect, then `run` with the connection and the output. */
  const remote =
    <A extends unknown[]>(
      run: (connection: Connection, out: Output, ...args: A) => Promise<void>,
      { credential = true }: { credential?: boolean } = {},
    ) =>
    async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command;
      const options = command.optsWithGlobals<GlobalOptions>();
      const out = createOutput(options.json === true, colourWanted(process.stdout, context.env));
      const connection = connect(options, context.env, { required: credential });
      try {
        await run(connection, out, ...(args.slice(0, -1) as A));
      } catch (error) {
        if (error instanceof TesseraApiError) throw new CliError(describeApiError(error, connection.url));
        throw error;
      }
    };

  program
    .command('serve')
    .description('run the server, configured by its environment variables (see the README)')
    .action(async () => {
      await (await context.loadLocal()).serve();
    });

  const sessions = program.command('sessions').description('admin sessions').helpCommand(false);
  sessions
    .command('list')
    .description('list sessions, newest first (active ones unless --status says otherwise)')
    .addOption(new Option('--status <status>', 'which sessions').choices(['all', ...SESSION_STATUSES]))
    .action(
      remote((c, out, options: { status?: SessionStatus | 'all' }) =>
        admin.listSessions(c, out, options.status === undefined ? {} : { status: options.status }),
      ),
    );
  sessions
    .command('revoke <jti>')
    .description('revoke one session')
    // A jti is base64url, so it may start with "-": taken as the argument, not an unknown option.
    .allowUnknownOption()
    .option('--reason <text>', 'kept in the audit trail')
    .action(
      remote((c, out, jti: string, o: { reason?: string }) => admin.revokeSession(c, out, jti, o.reason)),
    );
  sessions
    .command('revoke-all')
    .description('revoke every session at once (the admin key keeps working)')
    .option('--reason <text>', 'kept in the audit trail')
    .action(remote((c, out, o: { reason?: string }) => admin.revokeAllSessions(c, out, o.reason)));
  sessions
    .command('revoke-others')
    .description("revoke every active session but the caller's (with the admin key: every one)")
    .option('--reason <text>', 'kept in the audit trail')
    .action(remote((c, out, o: { reason?: string }) => admin.revokeOtherSessions(c, out, o.reason)));

  const stored = program.command('storage').description('stored session tokens').helpCommand(false);
  stored
    .command('list')
    .description('list stored tokens with masked previews, newest saved first')
    .option('--user-id <id>', 'only this user')
    .addOption(new Option('--valid', 'only tokens still valid').conflicts('expired'))
    .option('--expired', 'only expired tokens')
    .option('--page <n>', 'page, from 1', positiveInteger)
    .option('--limit <n>', 'per page, 1 to 100', positiveInteger)
    .action(
      remote(
        (c, out, o: { userId?: string; valid?: boolean; expired?: boolean; page?: number; limit?: number }) =>
          storage.listStoredTokens(c, out, {
            ...(o.userId === undefined ? {} : { user_id: o.userId }),
            ...(o.valid === true ? { valid: true } : o.expired === true ? { valid: false } : {}),
            ...(o.page === undefined ? {} : { page: o.page }),
            ...(o.limit === undefined ? {} : { limit: o.limit }),
          }),
      ),
    );
  stored
    .command('get <id>')
    .description('print one stored token, whole (the read is kept in the audit trail)')
    .action(remote((c, out, id: string) => storage.getStoredToken(c, out, id)));
  stored
    .command('delete <id>')
    .description('delete one stored token')
    .action(remote((c, out, id: string) => storage.deleteStoredToken(c, out, id)));
  stored
    .command('clear')
    .description('delete every stored token (asks for --yes)')
    .option('--yes', 'yes, delete them all')
    .action(remote((c, out, o: { yes?: boolean }) => storage.clearStoredTokens(c, out, o.yes === true)));

  const apiKeys = program.command('api-keys').description("applications' API keys").helpCommand(false);
  apiKeys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .action(remote((c, out) => admin.listApiKeys(c, out)));
  apiKeys
    .command('create')
    .description('create an API key; the key is printed this once')
    .requiredOption('--name <name>', 'what the key is for')
    .requiredOption(
      '--scope <scope>',
      `repeat, or separate with commas: ${API_KEY_SCOPES.join(', ')}`,
      collectScopes,
    )
    .action(
      remote((c, out, o: { name: string; scope: ApiKeyScope[] }) =>
        admin.createApiKey(c, out, o.name, o.scope),
      ),
    );
  apiKeys
    .command('revoke <id>')
    .description('revoke an API key, on every instance at once')
    .action(remote((c, out, id: string) => admin.revokeApiKey(c, out, id)));

  program
    .command('audit')
    .description('the audit trail, newest first')
    .addOption(new Option('--action <action>', 'only this action').choices(AUDIT_ACTIONS))
    .option('--page <n>', 'page, from 1', positiveInteger)
    .option('--limit <n>', 'per page, 1 to 100', positiveInteger)
    .action(
      remote((c, out, o: { action?: AuditAction; page?: number; limit?: number }) =>
        admin.listAudit(c, out, {
          ...(o.action === undefined ? {} : { action: o.action }),
          ...(o.page === undefined ? {} : { page: o.page }),
          ...(o.limit === undefined ? {} : { limit: o.limit }),
        }),
      ),
    );

  program
    .command('admin-key')
    .description('the admin key')
    .helpCommand(false)
    .command('rotate')
    .description('replace the admin key by a new one, printed this once (not when ADMIN_KEY sets it)')
    .action(remote((c, out) => admin.rotateAdminKey(c, out)));

  program
    .command('keys')
    .description('the token encryption keys')
    .helpCommand(false)
    .command('reseal')
    .description('re-seal every stored token under the first key of TOKEN_ENCRYPTION_KEYS')
    .action(remote((c, out) => admin.resealStoredTokens(c, out)));

  program
    .command('status')
    .description('is the server reachable and ready; its version, backend and counts')
    .action(remote((c, out) => status(c, out), { credential: false }));

  program
    .command('migrate')
    .description("bring the store's schema up to this version, as the server does at start (local)")
    .action(async (...args: unknown[]) => {
      const local = await context.loadLocal();
      printLocal(args, await local.migrate());
    });

  program
    .command('backup <file>')
    .description('copy the embedded SQLite store into a new file while servers use it (local)')
    .action(async (file: string, ...args: unknown[]) => {
      const local = await context.loadLocal();
      printLocal(args, await local.backup(file));
    });

  function printLocal(args: unknown[], result: { lines: string[]; value: unknown }) {
    const command = args[args.length - 1] as Command;
    const json = command.optsWithGlobals<GlobalOptions>().json === true;
    createOutput(json, colourWanted(process.stdout, context.env)).result(result.value, () => result.lines);
  }

  return program;
}
