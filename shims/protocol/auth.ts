/** The shared secret every connection presents first, compared in constant time. */
import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';

export const SECRET_ENV = 'OPENMB_SECRET';

/** Reads the secret from a file (trailing newline trimmed) or from $OPENMB_SECRET. */
export function loadSecret(file?: string): string {
  const secret = file ? readFileSync(file, 'utf8').replace(/\r?\n$/, '') : process.env[SECRET_ENV];
  if (!secret) {
    throw new Error(file ? `secret file ${file} is empty` : `no shared secret: pass --secret-file or set ${SECRET_ENV}`);
  }
  return secret;
}

/** Hashing first makes both sides the same length, so timingSafeEqual never leaks the length. */
export function secretsEqual(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
