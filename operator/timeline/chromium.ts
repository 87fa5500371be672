/**
 * The browser the timeline's tests drive: Debian's chromium (or $OPENMB_CHROMIUM), through
 * playwright-core, which downloads no browser of its own. A development dependency: only tests
 * import this.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser } from 'playwright-core';

export const CHROMIUM = process.env.OPENMB_CHROMIUM ?? '/usr/bin/chromium';
export const chromiumAvailable = existsSync(CHROMIUM);
/** CI sets it: there a missing chromium fails the tests instead of skipping them. */
export const chromiumRequired = process.env.OPENMB_REQUIRE_CHROMIUM === '1';

export function launchChromium(): Promise<Browser> {
  // Chromium refuses to run its sandbox as root (CI and this project's containers run as root),
  // so there it runs without: the pages it opens are our own.
  const asRoot = process.getuid?.() === 0;
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: asRoot ? ['--no-sandbox'] : [] });
}
