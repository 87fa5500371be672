/**
 * A child process's log file with a bound: past `maxBytes` the file becomes `<file>.1` (replacing
 * the previous one) and a new file starts, so a long-running pool keeps at most twice the bound
 * on disk per process, and the newest lines are always in `<file>`.
 */
import { copyFileSync, createWriteStream, renameSync, statSync, truncateSync, type WriteStream } from 'node:fs';
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

/**
 * The bound for a log a detached process writes itself (appending): past `maxBytes` the file is
 * copied to `<file>.1` and emptied in place, and the process's next write lands at its start.
 * Lines written between the copy and the truncation are lost; that is the price of not holding
 * the process's output in a pipe that would die with its supervisor.
 */
export function trimAppendedLog(path: string, maxBytes = MAX_LOG_BYTES): boolean {
  let size: number;
  try {
    size = statSync(path).size;
  } catch {
    return false;
  }
  if (size <= maxBytes) return false;
  copyFileSync(path, `${path}.1`);
  truncateSync(path, 0);
  return true;
}
