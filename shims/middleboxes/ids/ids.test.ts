/**
 * The ids on the shared real captures, in-process: scan alerts on the scanners, signature alerts
 * with the sample rules on the HTTP captures, request counts against tshark, and exact outputs
 * after moving all state to a fresh instance at many points of a trace.
 */
import test from 'ava';
import { readCaptureFile } from '../../flow/pcap.js';
import type { WirePacket } from '../../protocol/packets.js';
import { MiddleboxInstance } from '../../shim/runtime.js';
import { moveState } from '../../shim/in-process.js';
import { httpPairKey } from '../../reference/tshark.js';
import { referenceHttpRequests } from '../../reference/stored.js';
import { tracePath } from '../../traffic/trace-dir.js';
import { type IdsAlert, type IdsConnection, ids } from './ids.js';
import type { Conn } from './state.js';

interface Outputs {
  alerts: IdsAlert[];
  connections: IdsConnection[];
  counters: { packets: number; connections: number; httpRequests: number; alerts: Record<string, number> };
}

const cache = new Map<string, WirePacket[]>();
function tracePackets(name: string): WirePacket[] {
  let p = cache.get(name);
  if (!p) {
    p = readCaptureFile(tracePath(name)).packets.map((c, i) => ({ ...c, seq: i, ingressMs: 0 }));
    cache.set(name, p);
  }
  return p;
}

function instance(): MiddleboxInstance {
  return new MiddleboxInstance(ids, {});
}

function run(name: string): Outputs {
  const mb = instance();
  for (const p of tracePackets(name)) mb.receive(p);
  return mb.outputs() as unknown as Outputs;
}

function byRule(alerts: IdsAlert[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const a of alerts) out[a.rule] = (out[a.rule] ?? 0) + 1;
  return out;
}

test('ndpi_synscan.pcap: the nmap SYN scanner raises PortScan, and nothing else is raised', (t) => {
  const o = run('ndpi_synscan.pcap');
  t.deepEqual(o.alerts, [{
    ts: 1278275058.280333, rule: 'PortScan', host: '172.16.0.8',
    detail: 'more than 100 distinct targets within 60 s (latest 101: 1 host, 101 ports)',
  }]);
  t.deepEqual(o.counters, { packets: 2011, connections: 1994, httpRequests: 0, alerts: { PortScan: 1 } });
  const states: Record<string, number> = {};
  for (const c of o.connections) states[c.state] = (states[c.state] ?? 0) + 1;
  t.deepEqual(states, { S0: 1986, REJ: 5, S1: 3 });
});

test('alerts raised on every shared capture with the sample rules and default thresholds', (t) => {
  const expected: Record<string, Record<string, number>> = {
    'esnet_masscan_tcp_0_1000.pcap': { PortScan: 1 },
    'esnet_masscan_udp_0_1000.pcap': { PortScan: 1 },
    'esnet_nmap_80_all.pcap': {
      'http-git-exposure': 1, 'http-hnap-probe': 1, 'http-method-nonstandard': 1, 'http-method-propfind': 3, 'http-vmware-sdk-probe': 1, 'scanner-nmap-nse': 28,
    },
    'mercury_emix.pcap': { PortScan: 2, 'ssdp-discovery': 3 },
    'ndpi_synscan.pcap': { PortScan: 1 },
    'pcpp_4KHttpRequests.pcap': { 'policy-flash-object': 3 },
    'pcpp_DnsPackets.pcap': {},
    'pcpp_example.pcap': { 'policy-flash-object': 3 },
    'stopddos_amp.UDP.snmp.src161.pcap': { DistributedScan: 1 },
    'stopddos_pkt.TCP.synflood.spoofed.pcap': { DistributedScan: 1 },
    'suri_output-eve-ftp-data.pcap': { 'ssdp-discovery': 1, 'upnp-add-port-mapping': 3, 'upnp-igd-control': 9 },
    'tryzeek_http.pcap': { 'policy-flash-object': 5 },
    'tryzeek_ssh.pcapng': {},
    'tryzeek_sumstat.pcap': { 'policy-curl': 200, 'ssdp-discovery': 6 },
    'zeek_http-1000-requests.pcap': { 'policy-python-requests': 1 },
    'zeek_http_methods.pcap': { 'http-method-connect': 3, 'http-method-nonstandard': 3, 'http-method-trace': 3, 'http-uri-is-version': 9 },
    'zeek_nmap-vsn.pcap': {},
    'zeek_wikipedia.pcapng': {},
    'zeek_wikipedia_nsec.pcap': {},
  };
  for (const [trace, rules] of Object.entries(expected)) {
    const o = run(trace);
    t.deepEqual(byRule(o.alerts), rules, trace);
    t.deepEqual(o.counters.alerts, rules, `${trace} counters`);
  }
});

test('zeek_http_methods.pcap: odd and malformed methods', (t) => {
  const o = run('zeek_http_methods.pcap');
  const flow = (port: number) => ({ proto: 'tcp', a: { ip: '128.2.6.136', port }, b: { ip: '173.194.75.103', port: 80 } });
  t.deepEqual(o.alerts.filter((a) => a.rule !== 'http-uri-is-version').slice(0, 4), [
    { ts: 1354328891.309065, rule: 'http-method-nonstandard', flow: flow(46577), detail: 'HTTP request with a non-standard method (CCM_POST /, host www.google.com)' },
    { ts: 1354328895.355012, rule: 'http-method-nonstandard', flow: flow(46578), detail: 'HTTP request with a non-standard method (CCM_POST /HTTP/1.1, host www.google.com)' },
    { ts: 1354328895.480865, rule: 'http-method-nonstandard', flow: flow(46581), detail: 'HTTP request with a non-standard method (CCM_POST /, host www.google.com)' },
    { ts: 1354328899.526682, rule: 'http-method-connect', flow: flow(46582), detail: 'HTTP CONNECT: proxy tunnel attempt (CONNECT /, host www.google.com)' },
  ]);
  t.deepEqual(o.alerts[0], {
    ts: 1354328874.237327, rule: 'http-uri-is-version', flow: flow(46563),
    detail: 'malformed HTTP request line: a version where the URI belongs (OPTIONS HTTP/1.1, host www.google.com)',
  });
});

test('esnet_nmap_80_all.pcap: Nmap scripts by User-Agent, method and URI', (t) => {
  const o = run('esnet_nmap_80_all.pcap');
  const notUa = o.alerts.filter((a) => a.rule !== 'scanner-nmap-nse');
  t.deepEqual(notUa.map((a) => [a.rule, a.flow!.a.port, a.detail]), [
    ['http-git-exposure', 52244, 'request for a Git repository file (GET /.git/HEAD, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-vmware-sdk-probe', 52246, 'VMware SDK probe (POST /sdk, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-method-propfind', 52258, 'WebDAV PROPFIND: directory listing probe (PROPFIND /, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-method-propfind', 52264, 'WebDAV PROPFIND: directory listing probe (PROPFIND /, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-method-propfind', 52266, 'WebDAV PROPFIND: directory listing probe (PROPFIND /, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-method-nonstandard', 52268, 'HTTP request with a non-standard method (XFOC /, host 103.223.211.130.bc.googleusercontent.com)'],
    ['http-hnap-probe', 52276, 'HNAP1 request: home-router discovery or exploit probe (GET /HNAP1, host 103.223.211.130.bc.googleusercontent.com)'],
  ]);
  t.deepEqual(o.alerts.find((a) => a.rule === 'scanner-nmap-nse'), {
    ts: 1596347385.25457, rule: 'scanner-nmap-nse', flow: { proto: 'tcp', a: { ip: '10.87.1.10', port: 52242 }, b: { ip: '130.211.223.103', port: 80 } },
    detail: 'HTTP request from the Nmap Scripting Engine (GET /, host 103.223.211.130.bc.googleusercontent.com)',
  });
});

test('suri_output-eve-ftp-data.pcap: UPnP port mapping by request and by packet payload, SSDP over UDP', (t) => {
  const o = run('suri_output-eve-ftp-data.pcap');
  const flow = { proto: 'tcp', a: { ip: '192.168.0.1', port: 80 }, b: { ip: '192.168.0.13', port: 59885 } };
  t.deepEqual(o.alerts.slice(0, 3), [
    {
      ts: 1371506300.249271, rule: 'ssdp-discovery', flow: { proto: 'udp', a: { ip: '192.168.0.13', port: 62923 }, b: { ip: '239.255.255.250', port: 1900 } },
      detail: 'SSDP M-SEARCH discovery (originator payload)',
    },
    { ts: 1371506308.47908, rule: 'upnp-igd-control', flow, detail: 'UPnP IGD port-mapping control request (POST /WANIPConnection, host 192.168.0.1)' },
    { ts: 1371506308.479317, rule: 'upnp-add-port-mapping', flow, detail: 'UPnP AddPortMapping: a host opens a port on its gateway (originator payload)' },
  ]);
});

test('tryzeek_http.pcap and pcpp_example.pcap: Flash objects requested while browsing', (t) => {
  const uris = (trace: string) => run(trace).alerts.map((a) => /\(GET (\S+),/.exec(a.detail)![1]);
  t.deepEqual(uris('pcpp_example.pcap'), [
    '/7/1948/5064/v0001/prdupl02.ynet.co.il/MediaSvrFiles/4496105.swf',
    '/Ext/Comp/Ticker/Dhtml_Flash_Ticker/default_wide.swf?newsxml=http://www.ynet.co.il/Ext/Comp/Ticker/Flash_Ticker_Data/0,12115,L-184,00.html?timestamp=2862723519',
    '/long/content/2009/teaser_ynet/flash/ticker5.swf',
  ]);
  t.is(uris('tryzeek_http.pcap').filter((u) => u.includes('.swf')).length, 5);
});

function ourRequests(o: Outputs): Map<string, number> {
  const counts = new Map<string, number>();
  for (const c of o.connections) {
    if (c.httpRequests > 0) counts.set(httpPairKey(c.a, c.b), c.httpRequests);
  }
  return counts;
}

test('HTTP requests per connection equal tshark\'s on the plain HTTP captures', (t) => {
  for (const trace of ['tryzeek_http.pcap', 'tryzeek_sumstat.pcap', 'zeek_http_methods.pcap', 'zeek_wikipedia.pcapng', 'zeek_http-1000-requests.pcap', 'pcpp_example.pcap', 'esnet_nmap_80_all.pcap']) {
    const ours = ourRequests(run(trace));
    const theirs = referenceHttpRequests(tracePath(trace));
    // Requests tshark does not dissect: nmap's random method, UPnP eventing on port 5005.
    if (trace === 'esnet_nmap_80_all.pcap') theirs.set('10.87.1.10 52268 | 130.211.223.103 80', 1);
    if (trace === 'pcpp_example.pcap') theirs.set('10.0.0.138 5005 | 10.0.0.4 49682', 1);
    t.deepEqual([...ours].sort(), [...theirs].sort(), trace);
  }
});

test('where tshark sees requests, the ids sees at least as many (except HTTP inside SOCKS)', (t) => {
  for (const trace of ['mercury_emix.pcap', 'pcpp_4KHttpRequests.pcap', 'suri_output-eve-ftp-data.pcap']) {
    const ours = ourRequests(run(trace));
    const fewer = [...referenceHttpRequests(tracePath(trace))].filter(([k, n]) => (ours.get(k) ?? 0) < n).map(([k]) => k);
    t.deepEqual(fewer, trace === 'mercury_emix.pcap'
      ? ['10.180.156.185 53533 | 10.180.156.249 1080', '10.180.156.185 53534 | 10.180.156.249 1080', '10.180.156.185 53535 | 10.180.156.249 1080', '10.180.156.185 54072 | 10.180.156.249 1080']
      : [], trace);
  }
});


test('moving all state at any point, even inside a split request header or a reassembly gap, changes no output', (t) => {
  // tryzeek_http.pcap holds a partial request header after packets 2036 and 2292.
  const extraCuts: Record<string, number[]> = { 'tryzeek_http.pcap': [2036, 2292] };
  for (const trace of ['tryzeek_http.pcap', 'pcpp_4KHttpRequests.pcap', 'zeek_http_methods.pcap', 'ndpi_synscan.pcap', 'suri_output-eve-ftp-data.pcap']) {
    const packets = tracePackets(trace);
    const reference = run(trace);
    let withPending = 0;
    const cuts = [...(extraCuts[trace] ?? [])];
    for (let cut = 1; cut < packets.length; cut += Math.ceil(packets.length / 30)) cuts.push(cut);
    for (const cut of cuts) {
      const a = instance();
      for (const p of packets.slice(0, cut)) a.receive(p);
      for (const [, e] of a.tables.flows.map) {
        const c = e.state as Conn;
        for (const s of [c.a.stream, c.b.stream]) if (s?.http.pending || s?.pieces.length) withPending++;
      }
      const b = instance();
      moveState(a, b);
      for (const p of packets.slice(cut)) b.receive(p);
      t.deepEqual(b.outputs(), reference as unknown as Record<string, unknown>, `${trace} cut at ${cut}`);
    }
    if (trace === 'tryzeek_http.pcap' || trace === 'pcpp_4KHttpRequests.pcap') t.true(withPending > 0, `${trace}: some move carried a partial request header or segments waiting for a gap`);
  }
});
