/** Structured logs on stderr (stdout stays free for a command's own output). */
import { pino, destination, type Logger } from 'pino';

export type { Logger };

export function createLogger(name: string, level = process.env.OPENMB_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } }, destination(2));
}

/** A logger that discards everything, for library users and tests that do not want output. */
export const silentLogger: Logger = pino({ level: 'silent' });
