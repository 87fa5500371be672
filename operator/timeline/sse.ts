/**
 * A timeline as server-sent events: first `history` (every message so far, one array), then one
 * `message` event per new message, until the watcher goes. A comment line every few seconds
 * keeps proxies (kubectl port-forward, ingress) from closing a quiet stream.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TimelineFeed } from './feed.js';
import type { TimelineEvent, TimelineMessage } from './messages.js';

const KEEPALIVE_MS = 15_000;
/** A watcher this far behind is dropped rather than buffered for: it reconnects and gets the history. */
const MAX_BUFFERED = 8 * 1024 * 1024;

function event(name: TimelineEvent, data: TimelineMessage | TimelineMessage[]): string {
  // JSON has no raw newlines, so each event's data is one `data:` line.
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** Streams the feed to one watcher; `onClose` runs when the watcher has gone. */
export function streamTimeline(req: IncomingMessage, res: ServerResponse, feed: TimelineFeed, onClose: () => void = () => {}): void {
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  res.write(event('history', feed.history()));
  const unsubscribe = feed.subscribe((m) => {
    if (res.writableLength > MAX_BUFFERED) res.destroy();
    else res.write(event('message', m));
  });
  const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
  keepalive.unref();
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepalive);
    unsubscribe();
    onClose();
  };
  req.on('close', close);
  res.on('close', close);
}
