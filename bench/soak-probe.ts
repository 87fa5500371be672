/**
 * Preloaded (node --import) into the switch and instance processes a soak starts: reports their
 * memory figures to the directory the soak names in the environment. Outside a soak it does nothing.
 */
import { PROBE_DIR_ENV, startMemoryReports } from './soak-memory.js';

const dir = process.env[PROBE_DIR_ENV];
if (dir) startMemoryReports(dir);
