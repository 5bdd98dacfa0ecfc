import type { DestinationStream, Logger, LoggerOptions } from 'pino';
import { pino } from 'pino';

/**
 * Paths pino blanks before a line is written. Request headers are not logged at all (see the
 * serializers); these are the second line of defence for anything a handler logs by hand.
 */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-admin-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["x-admin-key"]',
  'token',
  'key',
  'adminKey',
  'secret',
  '*.token',
  '*.key',
  '*.adminKey',
  '*.secret',
];

/**
 * The service's logger: JSON lines on stdout, or on `destination` (tests). Lines go out
 * asynchronously, so a request never waits for a write to stdout; `main` flushes on shutdown.
 */
export function createLogger(level: string, destination?: DestinationStream): Logger {
  const options: LoggerOptions = {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    serializers: {
      req: (req: { method: string; url: string; ip?: string }) => ({
        method: req.method,
        path: req.url.split('?')[0],
        ip: req.ip,
      }),
      res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
    },
  };
  return pino(options, destination ?? pino.destination({ dest: 1, sync: false }));
}
