/**
 * The page, both ways: served, its libraries and modules as assets of the server; static,
 * everything inside it (nothing fetched from anywhere, a CDN least of all), the messages intact
 * whatever they hold.
 */
import test from 'ava';
import { ASSET_NAMES, assetText, servedPage, staticPage } from './page.js';
import type { TimelineMessage } from './messages.js';

const importMap = (page: string) => JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec(page)![1]) as { imports: Record<string, string> };

test('every asset is there and none points at its source map', (t) => {
  for (const name of ASSET_NAMES) {
    const text = assetText(name);
    t.true((text?.length ?? 0) > 100, name);
    t.notRegex(text!, /sourceMappingURL/, name);
  }
  t.is(assetText('nothing.js'), undefined);
});

test('modules other than the entry import nothing of the page at run time (they run from data: URLs)', (t) => {
  for (const name of ASSET_NAMES.filter((n) => n.endsWith('.js') && n !== 'app.js')) {
    t.notRegex(assetText(name)!, /\bfrom\s*['"]\.{1,2}\//, name);
    t.notRegex(assetText(name)!, /\bimport\s*\(?\s*['"]\.{1,2}\//, name);
  }
});

test('the served page maps each library to the server\'s assets and loads its entry from there', (t) => {
  const page = servedPage({ title: 'T <x>', assetBase: '/timeline/assets/', events: 'timeline/events', token: true });
  const { imports } = importMap(page);
  t.deepEqual(Object.keys(imports).sort(), ['htm', 'htm/preact', 'preact', 'uplot']);
  for (const url of Object.values(imports)) t.regex(url, /^\/timeline\/assets\/[a-z-]+\.mjs$/);
  t.true(page.includes('<script type="module" src="/timeline/assets/app.js"></script>'));
  t.true(page.includes('<title>T &#60;x&#62;</title>'));
  t.regex(page, /"events":"timeline\/events","token":true/);
});

test('the static page holds every module and its messages, and refers to nothing outside', (t) => {
  const messages: TimelineMessage[] = [
    { type: 'hello', t: 1, pool: 'local/monitor', middlebox: 'monitor', buckets: 4 },
    { type: 'end', t: 2, summary: { scenario: 'scale', guarantee: 'loss-free', trace: '</script><script>alert(1)</script>', packets: { sent: 1, processed: 1, dropped: 0, lost: 0, reordered: 0 }, instances: [], outputsEqual: true, errors: [], durationMs: 3 } },
  ];
  const page = staticPage('run', messages);
  const { imports } = importMap(page);
  t.deepEqual(Object.keys(imports).sort(), ['./charts.js', './model.js', 'htm', 'htm/preact', 'preact', 'uplot']);
  for (const [name, url] of Object.entries(imports)) t.true(url.startsWith('data:text/javascript;base64,'), name);
  t.is(Buffer.from(imports.uplot.split(',')[1], 'base64').toString(), assetText('uplot.mjs')!);
  t.notRegex(page, /\b(src|href)="(?!data:)/, 'no element loads anything from a URL');
  t.notRegex(page, /https?:\/\/(?!www\.w3\.org)[a-z]/i, 'no address of any server');
  const data = /<script type="application\/json" id="timeline-data">(.*?)<\/script>/s.exec(page)![1];
  t.deepEqual(JSON.parse(data), messages, 'the messages survive, a </script> inside them included');
  t.is(page.match(/<\/script>/g)!.length, 3, 'the import map, the data, the entry: nothing closed early');
});
