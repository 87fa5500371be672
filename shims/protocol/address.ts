/** Listen/connect addresses: "host:port", ":port", "[v6]:port", or a Unix socket path. */
import type { NetConnectOpts, ListenOptions } from 'node:net';

export type Address = { host: string; port: number } | { path: string };

export function parseAddress(text: string, field = 'address'): Address {
  if (text.startsWith('/') || text.startsWith('./') || text.startsWith('unix:')) return { path: text.replace(/^unix:/, '') };
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(text);
  if (!m) throw new Error(`${field}: "${text}" is neither host:port nor a socket path`);
  const port = Number(m[3]);
  if (port > 65535) throw new Error(`${field}: port ${port} is out of range 0-65535`);
  return { host: m[1] ?? (m[2] || '127.0.0.1'), port };
}

export function formatAddress(a: Address): string {
  if ('path' in a) return a.path;
  return a.host.includes(':') ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

export function connectOptions(a: Address): NetConnectOpts {
  return 'path' in a ? { path: a.path } : { host: a.host, port: a.port };
}

export function listenOptions(a: Address): ListenOptions {
  return 'path' in a ? { path: a.path } : { host: a.host, port: a.port };
}
