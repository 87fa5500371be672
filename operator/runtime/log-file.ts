/**
 * A child process's log file with a bound: past `maxBytes` the file becomes `<file>.1` (replacing
 * the previous one) and a new file starts, so a long-running pool keeps at most twice the bound
 * on disk per process, and the newest lines are always in `<file>`.
 */
import { createWriteStream, renameSync, type WriteStream } from 'node:fs';
import { Writable } from 'node:stream';

/** Per process: enough for hours of info-level logging, little enough for many instances. */
export const MAX_LOG_BYTES = 16 * 1024 * 1024;

export class BoundedLogFile extends Writable {
  private out: WriteStream;
  private bytes = 0;
  /** How many times the file was rotated. */
  rotations = 0;

  constructor(readonly path: string, private readonly maxBytes = MAX_LOG_BYTES) {
    super();
    this.out = createWriteStream(path);
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, done: (e?: Error | null) => void): void {
    if (this.bytes > 0 && this.bytes + chunk.length > this.maxBytes) {
      const full = this.out;
      // The rename is safe while `full` is still open: its writes land in the renamed file.
      renameSync(this.path, `${this.path}.1`);
      full.end();
      this.out = createWriteStream(this.path);
      this.bytes = 0;
      this.rotations++;
    }
    this.bytes += chunk.length;
    this.out.write(chunk, done);
  }

  override _final(done: (e?: Error | null) => void): void {
    this.out.end(done);
  }
}
