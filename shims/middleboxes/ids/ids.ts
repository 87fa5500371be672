/**
 * The intrusion detector, after Bro/Zeek: connection tracking with conn.log states, HTTP request
 * parsing across TCP segments, signatures over requests and payloads (rules.ts), and a per-host
 * scan detector (scan.ts). Alerts live in the state they belong to (a connection's, a host's), so
 * they move with it.
 *
 * Its outputs do not depend on the order a flow's packets arrive in, as long as a late packet is
 * no more than the reassembly limit (per direction) and the scan logs (per host) behind: a
 * loss-free move hands the destination a flow's held packets after newer ones, and the outputs
 * stay those of one instance that saw the trace in order. conn.ts, stream.ts and scan.ts say how.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import { type Endpoint, type FlowKey, protoName } from '../../flow/key.js';
import { compareByFields, type MbState, type MiddleboxDefinition, type OutputMerge, type PacketInput } from '../../shim/definition.js';
import { DEFAULT_CONFIG, type IdsConfig, parseIdsConfig } from './config.js';
import { clientOf, clientSettled, connState, coverRange, seqOffset, sideBytes } from './conn.js';
import { HTTP_OFF, type HttpRequest } from './http.js';
import { matchPacket, matchRequest, type RequestView, type Rule } from './rules.js';
import { hostCodec, provisionalOf, recordAttempt, withdrawAttempt } from './scan.js';
import {
  clipDetail, type Conn, connCodec, type Counters, countersCodec, type FlowAlert, type HostRecord, newConn,
  SENT_ACK, SENT_DATA, SENT_FIN, SENT_RST, SENT_SYN, SENT_SYNACK, type SideName, type StoredAlert,
} from './state.js';
import { addSegment, endStream, flushStream, newStream, startStream, type StreamSink, streamWaiting } from './stream.js';

export interface IdsFlow {
  proto: string;
  a: Endpoint;
  b: Endpoint;
}

export interface IdsAlert {
  ts: number;
  rule: string;
  /** The connection of a signature alert, or the host of a scan alert. */
  flow?: IdsFlow;
  host?: string;
  detail: string;
}

export interface IdsConnection extends IdsFlow {
  /** The originator: endpoint 'a' or 'b' of the canonical key. */
  client: 'a' | 'b';
  duration: number;
  origBytes: number;
  respBytes: number;
  origPackets: number;
  respPackets: number;
  /** conn.log state: S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH. */
  state: string;
  httpRequests: number;
}

const SIDES: readonly SideName[] = ['a', 'b'];

function other(side: SideName): SideName {
  return side === 'a' ? 'b' : 'a';
}

function endpoint(key: FlowKey, side: SideName): Endpoint {
  return side === 'a' ? key.a : key.b;
}

function compareStrings(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Sets bits and earliest FIN/RST times from a TCP packet's flags; returns its stream payload length. */
function tcpFlagFacts(c: Conn, side: SideName, flags: number, payloadLen: number, ts: number): number {
  const s = c[side];
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  const rst = (flags & TCP_RST) !== 0;
  let bits = syn ? (ack ? SENT_SYNACK : SENT_SYN) : ack ? SENT_ACK : 0;
  if (flags & TCP_FIN && !rst) {
    bits |= SENT_FIN;
    if (s.finTs < 0 || ts < s.finTs) s.finTs = ts;
  }
  if (rst) {
    bits |= SENT_RST;
    if (s.rstTs < 0 || ts < s.rstTs) s.rstTs = ts;
  }
  // As in Zeek, a RST's payload is not part of the stream.
  const len = rst ? 0 : payloadLen;
  if (len > 0) bits |= SENT_DATA;
  s.flags |= bits;
  return len;
}

/** Alerts by time, rule, then place (a host, or a connection's key) and detail. */
const ALERT_ORDER = ['ts', 'rule', 'host', 'flow.proto', 'flow.a.ip', 'flow.a.port', 'flow.b.ip', 'flow.b.port', 'detail'];
const compareAlerts = compareByFields(ALERT_ORDER);
const CONNECTION_ORDER = ['proto', 'a.ip', 'a.port', 'b.ip', 'b.port'];
const compareConnections = compareByFields(CONNECTION_ORDER);

/**
 * Across instances: connections and their alerts are per-flow state, each on one instance. Scan
 * alerts come from per-host logs, exact for a host whose flows all hash by it, so that its
 * attempts are on one instance: under the `host` key, a host inside the `inside` prefixes (without
 * them, a host lower than every address it talks to). A host whose attempts are split (another
 * key, or an outside host) has its log in parts; each part raises what its own attempts raise and
 * the pool reports every part's alerts: a scan no part sees alone is missed, as by each instance.
 */
const OUTPUTS: OutputMerge = {
  alerts: { merge: 'concat', orderBy: ALERT_ORDER },
  connections: { merge: 'concat', orderBy: CONNECTION_ORDER },
  counters: {
    merge: 'record', fields: {
      packets: { merge: 'sum' }, connections: { merge: 'sum' }, httpRequests: { merge: 'sum' }, alerts: { merge: 'map', values: { merge: 'sum' } },
    },
  },
};

export const ids: MiddleboxDefinition<IdsConfig, Conn, HostRecord, Counters> = {
  type: 'ids',
  description: 'intrusion detection after Bro/Zeek: connection states, HTTP signatures, port-scan and distributed-scan detection',
  partitionKey: 'host',
  defaultConfig: DEFAULT_CONFIG,
  outputs: OUTPUTS,
  parseConfig: parseIdsConfig,
  perFlow: connCodec,
  multiFlow: hostCodec,
  allFlows: countersCodec,
  createLogic(state: MbState<Conn, HostRecord, Counters>, config: () => IdsConfig) {
    const onFinal = (a: StoredAlert) => {
      const alerts = state.all.scanAlerts;
      alerts.set(a.rule, (alerts.get(a.rule) ?? 0) + 1);
    };

    // The connection and side whose stream is parsed, set before each stream call. While the
    // outputs are read, requests and alerts of what still waits go to `flushed` instead.
    let reqConn: Conn;
    let reqSide: SideName = 'a';
    let reqRules: Rule[] = [];
    let flushed: { requests: number; alerts: FlowAlert[] } | null = null;
    const fired = (rule: string): boolean => {
      for (const a of reqConn.alerts) if (a.rule === rule && a.side === reqSide && a.at !== null) return true;
      if (flushed) for (const a of flushed.alerts) if (a.rule === rule) return true;
      return false;
    };
    const sink: StreamSink = {
      serverPort: 0,
      onRequest: (r: HttpRequest, at: number, ts: number) => {
        if (flushed) flushed.requests++;
        else reqConn[reqSide].requests++;
        let view: RequestView | null = null;
        for (const rule of reqRules) {
          if (fired(rule.id)) continue;
          view ??= { method: r.method.toLowerCase(), uri: r.uri.toLowerCase(), host: r.host.toLowerCase(), ua: r.userAgent.toLowerCase(), header: r.header };
          if (!matchRequest(rule, view)) continue;
          const alert: FlowAlert = { ts, rule: rule.id, detail: clipDetail(`${rule.msg} (${r.method} ${r.uri}${r.host ? `, host ${r.host}` : ''})`), side: reqSide, at };
          (flushed ? flushed.alerts : reqConn.alerts).push(alert);
        }
      },
    };
    const parsing = (c: Conn, side: SideName, key: FlowKey, cfg: IdsConfig) => {
      reqConn = c;
      reqSide = side;
      reqRules = cfg.requestRules;
      sink.serverPort = endpoint(key, other(side)).port;
    };

    /** Packet rules look at each packet's payload; an alert keeps the earliest matching packet. */
    const packetRules = (c: Conn, side: SideName, data: Buffer, from: number, to: number, ts: number, cfg: IdsConfig) => {
      for (const rule of cfg.packetRules) {
        let have: FlowAlert | undefined;
        for (const a of c.alerts) if (a.at === null && a.rule === rule.id) have = a;
        if (have && (have.ts < ts || (have.ts === ts && have.side <= side))) continue;
        if (!matchPacket(rule, data, from, to)) continue;
        if (have) {
          have.ts = ts;
          have.side = side;
        } else {
          c.alerts.push({ ts, rule: rule.id, detail: clipDetail(rule.msg), side, at: null });
        }
      }
    };

    const processTcp = (c: Conn, side: SideName, key: FlowKey, { packet, d, ts }: PacketInput, cfg: IdsConfig) => {
      const me = c[side];
      const flags = d.tcpFlags;
      const syn = (flags & TCP_SYN) !== 0;
      const len = tcpFlagFacts(c, side, flags, d.payloadLen, ts);
      let off = 0;
      if (syn || len > 0) {
        const dataSeq = (d.tcpSeq + (syn ? 1 : 0)) >>> 0;
        off = seqOffset(me, dataSeq);
        coverRange(me, dataSeq, off, len);
        // The stream starts after the first SYN seen (a SYN with another ISN is a port reuse this does not follow).
        if (syn && me.start === null) me.start = off;
      }
      if ((flags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN) {
        const dst = endpoint(key, other(side));
        recordAttempt(state.groups, endpoint(key, side).ip, dst.ip, dst.port, 'tcp', ts, cfg, onFinal);
      }
      if (len > 0) {
        packetRules(c, side, packet.data, d.payloadOff, d.payloadOff + len, ts, cfg);
        // A copy of the byte that completed a request, captured earlier than the one that did.
        for (const a of c.alerts) if (a.side === side && a.at !== null && a.at >= off && a.at < off + len && ts < a.ts) a.ts = ts;
      }
      // Each endpoint's stream is parsed while it may be the originator's.
      const settled = clientSettled(c);
      const client = settled ? clientOf(c, true) : null;
      for (const sn of SIDES) {
        const s = c[sn];
        if (client !== null && sn !== client) {
          if (s.stream && s.stream.http.mode !== HTTP_OFF) endStream(s.stream);
          continue;
        }
        if (sn === side && len > 0) s.stream ??= newStream();
        if (!s.stream || s.stream.http.mode === HTTP_OFF) continue;
        if (s.start !== null && s.stream.next === null) {
          parsing(c, sn, key, cfg);
          startStream(s.stream, s.start, cfg.reassemblyBytes, sink);
        }
        if (sn === side && len > 0) {
          parsing(c, sn, key, cfg);
          addSegment(s.stream, off, packet.data, d.payloadOff, d.payloadOff + len, ts, cfg.reassemblyBytes, sink);
        }
      }
    };

    const processUdp = (c: Conn, side: SideName, key: FlowKey, { packet, d, ts }: PacketInput, cfg: IdsConfig) => {
      c[side].bytes += d.payloadLen;
      if (d.payloadLen > 0) packetRules(c, side, packet.data, d.payloadOff, d.payloadOff + d.payloadLen, ts, cfg);
      // The attempt is the flow's earliest packet: corrected when an earlier one turns up late.
      const client = clientOf(c, false);
      const first = c[client].first;
      if (c.attempt && c.attempt[0] === client && c.attempt[1] === first) return;
      if (c.attempt) {
        const [was, at] = c.attempt;
        const dst = endpoint(key, other(was));
        withdrawAttempt(state.groups, endpoint(key, was).ip, dst.ip, dst.port, 'udp', at, cfg);
      }
      const dst = endpoint(key, other(client));
      recordAttempt(state.groups, endpoint(key, client).ip, dst.ip, dst.port, 'udp', first, cfg, onFinal);
      c.attempt = [client, first];
    };

    const process = (input: PacketInput): void => {
      const { d, flow, ts } = input;
      state.all.packets++;
      if (!flow || !d.hasPorts || (d.proto !== PROTO_TCP && d.proto !== PROTO_UDP)) return;
      let c = state.flows.get(flow.id);
      if (!c) {
        c = newConn();
        state.flows.set(flow.id, flow.key, c);
        state.all.connections++;
      }
      const side: SideName = flow.forward ? 'a' : 'b';
      const me = c[side];
      me.packets++;
      if (me.first < 0 || ts < me.first) me.first = ts;
      if (ts > c.last) c.last = ts;
      if (d.proto === PROTO_TCP) processTcp(c, side, flow.key, input, config());
      else processUdp(c, side, flow.key, input, config());
    };

    const outputs = () => {
      const cfg = config();
      const alerts: IdsAlert[] = [];
      const connections: IdsConnection[] = [];
      const byRule = new Map<string, number>(state.all.scanAlerts);
      const count = (rule: string) => byRule.set(rule, (byRule.get(rule) ?? 0) + 1);
      let httpRequests = 0;
      for (const [, { key, state: c }] of state.flows.entries()) {
        const isTcp = key.proto === PROTO_TCP;
        const flow: IdsFlow = { proto: protoName(key.proto), a: key.a, b: key.b };
        const client = clientOf(c, isTcp);
        const o = c[client];
        const r = c[other(client)];
        let requests = o.requests;
        const report = (a: FlowAlert) => {
          const detail = a.at === null ? clipDetail(`${a.detail} (${a.side === client ? 'originator' : 'responder'} payload)`) : a.detail;
          alerts.push({ ts: a.ts, rule: a.rule, flow, detail });
          count(a.rule);
        };
        for (const a of c.alerts) if (a.at === null || a.side === client) report(a);
        if (isTcp && streamWaiting(o.stream)) {
          // What still waits behind a gap is reported as if the connection ended now.
          parsing(c, client, key, cfg);
          flushed = { requests: 0, alerts: [] };
          try {
            flushStream(o.stream!, sink);
            requests += flushed.requests;
            for (const a of flushed.alerts) report(a);
          } finally {
            flushed = null;
          }
        }
        httpRequests += requests;
        const firsts = [c.a.first, c.b.first].filter((t) => t >= 0);
        connections.push({
          ...flow, client, duration: Math.round((c.last - Math.min(...firsts)) * 1e9) / 1e9,
          origBytes: sideBytes(o, isTcp), respBytes: sideBytes(r, isTcp), origPackets: o.packets, respPackets: r.packets,
          state: connState(c, isTcp, client), httpRequests: requests,
        });
      }
      for (const [host, h] of state.groups.entries()) {
        for (const a of h.alerts) alerts.push({ ts: a.ts, rule: a.rule, host, detail: a.detail });
        for (const a of provisionalOf(h)) {
          alerts.push({ ts: a.ts, rule: a.rule, host, detail: a.detail });
          count(a.rule);
        }
      }
      alerts.sort(compareAlerts);
      connections.sort(compareConnections);
      return {
        alerts,
        connections,
        counters: {
          packets: state.all.packets,
          connections: state.all.connections,
          httpRequests,
          alerts: Object.fromEntries([...byRule].filter(([, n]) => n > 0).sort((x, y) => compareStrings(x[0], y[0]))),
        },
      };
    };

    return { process, outputs };
  },
};
