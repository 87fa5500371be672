/* global process, console, setTimeout */
// watch-switch.mjs - what a pool's switch does while its operators hand over: connected to the
// switch as a read-only controller, it asks for the switch's counters every INTERVAL_MS and,
// when told to stop (SIGTERM), prints how traffic fared, from those samples alone:
//   stallMs         the longest the packets the switch forwarded to instances did not grow while
//                   the replay was sending (from the first packet received until the last)
//   receiveStallMs  the same for the packets the switch received from the replay
//   heldMs          the longest the switch held some packets (a move's hold) without a break
//   and the last sample's received, forwarded (summed over instances), held and dropped.
// Exits 1 if it could not sample (the switch went away).
//
// Usage: OPENMB_SECRET=... node e2e/handoff/watch-switch.mjs SWITCH_ADDRESS [INTERVAL_MS]
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const { connectPeer } = await import(join(root, 'dist/shims/protocol/connection.js'));
const { parseAddress } = await import(join(root, 'dist/shims/protocol/address.js'));
const { SwitchSession } = await import(join(root, 'dist/operator/routing/switch-session.js'));
const { silentLogger } = await import(join(root, 'dist/shims/log/logger.js'));

const [, , address, intervalArg = '100'] = process.argv;
if (!address || !process.env.OPENMB_SECRET) {
  console.error('usage: OPENMB_SECRET=... watch-switch.mjs SWITCH_ADDRESS [INTERVAL_MS]');
  process.exit(2);
}
const interval = Number(intervalArg);
const peer = await connectPeer(parseAddress(address), { secret: process.env.OPENMB_SECRET, role: 'controller', name: 'e2e-handoff-watch' }, silentLogger);
const session = new SwitchSession(peer, 'switch');
const samples = [];
let stopping = false;
peer.on('close', (reason) => {
  if (stopping) return;
  console.error(`the switch closed the watch's connection: ${reason}`);
  process.exit(1);
});

const sum = (counts) => Object.values(counts ?? {}).reduce((a, n) => a + n, 0);
async function sample() {
  while (!stopping) {
    const s = await session.stats();
    samples.push({ t: Date.now(), received: s.received, forwarded: sum(s.forwarded), held: s.held, dropped: s.dropped + sum(s.droppedQueued) });
    await new Promise((r) => setTimeout(r, interval));
  }
}
const sampling = sample().catch((e) => {
  console.error(`sampling the switch failed: ${e.message}`);
  process.exit(1);
});
console.log('sampling');

/** The longest time `value` stayed the same within [from, to]. */
function longestFlat(value, from, to) {
  let longest = 0;
  let since = null;
  let last = null;
  for (const s of samples) {
    if (s.t < from || s.t > to) continue;
    const v = value(s);
    if (since === null || v !== last) since = s.t;
    last = v;
    longest = Math.max(longest, s.t - since);
  }
  return longest;
}

function longestHeld() {
  let longest = 0;
  let since = null;
  for (const s of samples) {
    if (s.held > 0) since ??= s.t;
    else since = null;
    if (since !== null) longest = Math.max(longest, s.t - since);
  }
  return longest;
}

process.on('SIGTERM', async () => {
  stopping = true;
  await sampling;
  peer.close('closed locally');
  const last = samples.at(-1);
  const first = samples.find((s) => s.received > 0);
  const lastReceived = samples.find((s) => s.received === last?.received);
  if (!last || !first) {
    console.error(`no traffic seen in ${samples.length} samples`);
    process.exit(1);
  }
  console.log(JSON.stringify({
    samples: samples.length, intervalMs: interval,
    stallMs: longestFlat((s) => s.forwarded, first.t, lastReceived.t),
    receiveStallMs: longestFlat((s) => s.received, first.t, lastReceived.t),
    heldMs: longestHeld(),
    received: last.received, forwarded: last.forwarded, held: last.held, dropped: last.dropped,
  }));
  process.exit(0);
});
