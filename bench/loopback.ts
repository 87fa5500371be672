/**
 * Loopback TCP throughput, the baseline a move's state MB/s is read against: a writer process
 * (bench/loopback-writer.ts) sends `bytes` in `chunk`-sized buffers to a server on 127.0.0.1 in
 * this process, which only counts them. Two processes, as between a source and a destination
 * instance, so both ends get a core when the machine has them free.
 */
import { fork } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type AddressInfo, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';

const WRITER = fileURLToPath(new URL('./loopback-writer.js', import.meta.url));

/** MB (1e6 bytes) per second from the connection's acceptance to the last byte's arrival. */
export async function loopbackMBps(bytes = 256 * 2 ** 20, chunk = 64 * 2 ** 10): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  try {
    const received = new Promise<number>((resolve, reject) => {
      server.once('connection', (s: Socket) => {
        const start = performance.now();
        let n = 0;
        s.on('data', (d: Buffer) => {
          n += d.length;
          if (n >= bytes) resolve(performance.now() - start);
        });
        s.on('error', reject);
        s.on('close', () => { if (n < bytes) reject(new Error(`loopback: the writer closed after ${n} of ${bytes} bytes`)); });
      });
    });
    const writer = fork(WRITER, [String((server.address() as AddressInfo).port), String(bytes), String(chunk)], { stdio: 'inherit', execArgv: [] });
    const exited = once(writer, 'exit');
    // A writer that fails before it connects would leave `received` waiting for ever.
    const failed = exited.then(([code]) => code === 0 ? new Promise<never>(() => {}) : Promise.reject(new Error(`loopback: the writer exited with ${code}`)));
    const ms = await Promise.race([received, failed]);
    await exited;
    return bytes / 1e6 / (ms / 1000);
  } finally {
    server.close();
  }
}
