/**
 * The writing end of bench/loopback.ts: connects to 127.0.0.1:<port> and writes <bytes> in
 * buffers of <chunk> bytes, waiting for the socket to drain whenever it is full.
 *
 *   node dist/bench/loopback-writer.js <port> <bytes> <chunk>
 */
import { once } from 'node:events';
import { connect } from 'node:net';

const [port, bytes, chunk] = process.argv.slice(2).map(Number);
for (const [name, v] of Object.entries({ port, bytes, chunk })) {
  if (!Number.isInteger(v) || v <= 0) throw new Error(`loopback-writer: ${name} must be a positive integer, got "${v}"`);
}
const socket = connect(port, '127.0.0.1');
await once(socket, 'connect');
const buffer = Buffer.alloc(chunk, 0x5a);
for (let sent = 0; sent < bytes; sent += chunk) {
  const piece = sent + chunk <= bytes ? buffer : buffer.subarray(0, bytes - sent);
  if (!socket.write(piece)) await once(socket, 'drain');
}
socket.end();
await once(socket, 'close');
