/**
 * The timeline page, two ways from one piece of code: served (its modules and libraries as
 * assets of the server, its messages streamed) and static (every module inlined as a data: URL
 * in the import map and the messages in the page, so a file opened with no server works). No
 * CDN either way: the libraries come from our node_modules.
 *
 * Only the entry module (app.js) may import the page's own modules: it runs inline, resolved
 * against the document, while the others run from data: URLs, against which nothing relative
 * resolves. They import libraries (bare names, in the import map) and types only.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TimelineMessage } from './messages.js';
import { PAGE_CSS } from './style.js';

interface Asset {
  url: URL;
  type: string;
}

/** Libraries, by the bare name the page imports them with. */
const LIBRARIES: Record<string, string> = { preact: 'preact.mjs', htm: 'htm.mjs', 'htm/preact': 'htm-preact.mjs', uplot: 'uplot.mjs' };
/** The page's modules besides the entry, as the entry imports them. */
const PAGE_MODULES = ['model.js', 'charts.js'];

const ASSETS: Record<string, Asset> = {
  'preact.mjs': { url: new URL(import.meta.resolve('preact')), type: 'text/javascript' },
  'htm.mjs': { url: new URL(import.meta.resolve('htm')), type: 'text/javascript' },
  'htm-preact.mjs': { url: new URL(import.meta.resolve('htm/preact')), type: 'text/javascript' },
  'uplot.mjs': { url: new URL(import.meta.resolve('uplot/dist/uPlot.esm.js')), type: 'text/javascript' },
  'uplot.css': { url: new URL(import.meta.resolve('uplot/dist/uPlot.min.css')), type: 'text/css' },
  'app.js': { url: new URL('./page/app.js', import.meta.url), type: 'text/javascript' },
  ...Object.fromEntries(PAGE_MODULES.map((m) => [m, { url: new URL(`./page/${m}`, import.meta.url), type: 'text/javascript' }])),
};

const cache = new Map<string, string>();

/** An asset's text, without its source map reference (the maps are not served). */
export function assetText(name: string): string | undefined {
  const a = ASSETS[name];
  if (!a) return undefined;
  let text = cache.get(name);
  if (text === undefined) {
    text = readFileSync(fileURLToPath(a.url), 'utf8').replace(/\n\/\/# sourceMappingURL=\S+\s*$/, '\n');
    cache.set(name, text);
  }
  return text;
}

export function assetType(name: string): string | undefined {
  return ASSETS[name]?.type;
}

export const ASSET_NAMES = Object.keys(ASSETS);

const dataUrl = (name: string) => `data:text/javascript;base64,${Buffer.from(assetText(name)!).toString('base64')}`;

/** JSON inside a <script> element: no `<` can close it early. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

function shell(title: string, head: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>${title.replace(/[&<>"]/g, (c) => `&#${c.charCodeAt(0)};`)}</title>
<style>${assetText('uplot.css')}
${PAGE_CSS}</style>
${head}
</head><body><main id="timeline"><p class="loading">loading the timeline…</p></main>
${body}
</body></html>
`;
}

/**
 * The page as a server serves it: assets under `assetBase` (an absolute path ending in /),
 * messages from `events` (relative to the page); `token` tells the page to ask for the bearer token.
 */
export function servedPage(o: { title: string; assetBase: string; events: string; token: boolean }): string {
  const imports = Object.fromEntries(Object.entries(LIBRARIES).map(([bare, file]) => [bare, `${o.assetBase}${file}`]));
  return shell(o.title,
    `<script type="importmap">${scriptJson({ imports })}</script>`,
    `<script type="application/json" id="timeline-source">${scriptJson({ events: o.events, token: o.token })}</script>
<script type="module" src="${o.assetBase}app.js"></script>`);
}

/** The page with everything inside it: its messages and every module. */
export function staticPage(title: string, messages: TimelineMessage[]): string {
  const imports = {
    ...Object.fromEntries(Object.entries(LIBRARIES).map(([bare, file]) => [bare, dataUrl(file)])),
    ...Object.fromEntries(PAGE_MODULES.map((m) => [`./${m}`, dataUrl(m)])),
  };
  return shell(title,
    `<script type="importmap">${scriptJson({ imports })}</script>`,
    `<script type="application/json" id="timeline-data">${scriptJson(messages)}</script>
<script type="module">${assetText('app.js')!.replace(/<\/script/gi, '<\\/script')}</script>`);
}
