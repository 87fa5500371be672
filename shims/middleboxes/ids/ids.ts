/**
 * The intrusion detector, after Bro/Zeek: connection tracking with conn.log states, HTTP request
 * parsing across TCP segments, signatures over requests and payloads (rules.ts), and a per-host
 * scan detector (scan.ts). Alerts live in the state they belong to (a connection's, a host's), so
 * they move with it; counters by rule are instance-wide.
 */
import { PROTO_TCP, PROTO_UDP, TCP_ACK, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import { type Endpoint, protoName } from '../../flow/key.js';
import type { MbState, MiddleboxDefinition, PacketInput } from '../../shim/definition.js';
import { DEFAULT_CONFIG, type IdsConfig, parseIdsConfig } from './config.js';
import { connState, type Placement, placeSegment, tcpTransition } from './conn.js';
import { feedHttp, gapHttp, HTTP_OFF, type HttpRequest } from './http.js';
import { matchPacket, matchRequest, type RequestView, type Rule } from './rules.js';
import { recordAttempt } from './scan.js';
import {
  clipDetail, type Conn, connCodec, type Counters, countersCodec, type HostRecord, hostCodec, newConn, type StoredAlert,
} from './state.js';

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

function fired(c: Conn, rule: string): boolean {
  for (const a of c.alerts) if (a.rule === rule) return true;
  return false;
}

function compareStrings(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

export const ids: MiddleboxDefinition<IdsConfig, Conn, HostRecord, Counters> = {
  type: 'ids',
  description: 'intrusion detection after Bro/Zeek: connection states, HTTP signatures, port-scan and distributed-scan detection',
  partitionKey: 'host',
  defaultConfig: DEFAULT_CONFIG,
  parseConfig: parseIdsConfig,
  perFlow: connCodec,
  multiFlow: hostCodec,
  allFlows: countersCodec,
  createLogic(state: MbState<Conn, HostRecord, Counters>, config: () => IdsConfig) {
    const place: Placement = { skip: 0, gap: 0 };
    const countAlert = (rule: string) => {
      const alerts = state.all.alerts;
      alerts.set(rule, (alerts.get(rule) ?? 0) + 1);
    };
    const raiseFlowAlert = (c: Conn, ts: number, rule: Rule, detail: string) => {
      c.alerts.push({ ts, rule: rule.id, detail: clipDetail(detail) });
      countAlert(rule.id);
    };
    const onHostAlert = (_host: string, a: StoredAlert) => countAlert(a.rule);

    // The connection and packet a request belongs to, set before each feedHttp call.
    let reqConn: Conn;
    let reqTs = 0;
    let reqRules: Rule[] = [];
    const onRequest = (r: HttpRequest) => {
      state.all.httpRequests++;
      reqConn.httpRequests++;
      let view: RequestView | null = null;
      for (const rule of reqRules) {
        if (fired(reqConn, rule.id)) continue;
        view ??= { method: r.method.toLowerCase(), uri: r.uri.toLowerCase(), host: r.host.toLowerCase(), ua: r.userAgent.toLowerCase(), header: r.header };
        if (matchRequest(rule, view)) raiseFlowAlert(reqConn, reqTs, rule, `${rule.msg} (${r.method} ${r.uri}${r.host ? `, host ${r.host}` : ''})`);
      }
    };

    const process = ({ packet, d, flow, ts }: PacketInput): void => {
      state.all.packets++;
      if (!flow || !d.hasPorts || (d.proto !== PROTO_TCP && d.proto !== PROTO_UDP)) return;
      const isTcp = d.proto === PROTO_TCP;
      let c = state.flows.get(flow.id);
      let opened = false;
      if (!c) {
        // The opener is the sender of the first packet, unless that packet is a SYN-ACK.
        const synAck = isTcp && (d.tcpFlags & (TCP_SYN | TCP_ACK)) === (TCP_SYN | TCP_ACK);
        c = newConn(flow.forward !== synAck ? 'a' : 'b', ts);
        state.flows.set(flow.id, flow.key, c);
        state.all.connections++;
        opened = true;
      }
      const isOrig = (c.client === 'a') === flow.forward;
      if (ts < c.first) c.first = ts;
      if (ts > c.last) c.last = ts;
      let skip = 0;
      if (isTcp) {
        placeSegment(c, isOrig, d.tcpSeq, d.tcpFlags, d.payloadLen, place);
        tcpTransition(c, isOrig, d.tcpFlags, d.payloadLen);
        skip = place.skip;
      }
      const fresh = d.payloadLen - skip;
      if (isOrig) {
        c.origPackets++;
        c.origBytes += fresh;
      } else {
        c.respPackets++;
        c.respBytes += fresh;
      }
      const cfg = config();
      if (isTcp ? (d.tcpFlags & (TCP_SYN | TCP_ACK | TCP_RST)) === TCP_SYN : opened) {
        const src = flow.forward ? flow.key.a : flow.key.b;
        const dst = flow.forward ? flow.key.b : flow.key.a;
        recordAttempt(state.groups, src.ip, dst.ip, dst.port, isTcp ? 'tcp' : 'udp', ts, cfg, onHostAlert);
      }
      const httpOn = isTcp && isOrig && c.http.mode !== HTTP_OFF;
      if (httpOn && place.gap > 0) gapHttp(c.http, place.gap);
      if (fresh <= 0) return;
      const from = d.payloadOff + skip;
      const to = d.payloadOff + d.payloadLen;
      for (const rule of cfg.packetRules) {
        if (!fired(c, rule.id) && matchPacket(rule, packet.data, from, to)) {
          raiseFlowAlert(c, ts, rule, `${rule.msg} (${isOrig ? 'originator' : 'responder'} payload)`);
        }
      }
      if (httpOn) {
        reqConn = c;
        reqTs = ts;
        reqRules = cfg.requestRules;
        const serverPort = c.client === 'a' ? flow.key.b.port : flow.key.a.port;
        feedHttp(c.http, packet.data, from, to, serverPort, onRequest);
      }
    };

    const outputs = () => {
      const alerts: (IdsAlert & { where: string })[] = [];
      const connections: (IdsConnection & { id: string })[] = [];
      for (const [id, { key, state: c }] of state.flows.entries()) {
        const flow: IdsFlow = { proto: protoName(key.proto), a: key.a, b: key.b };
        connections.push({
          id, ...flow, client: c.client, duration: Math.round((c.last - c.first) * 1e9) / 1e9,
          origBytes: c.origBytes, respBytes: c.respBytes, origPackets: c.origPackets, respPackets: c.respPackets,
          state: connState(c, key.proto === PROTO_TCP), httpRequests: c.httpRequests,
        });
        for (const a of c.alerts) alerts.push({ where: id, ts: a.ts, rule: a.rule, flow, detail: a.detail });
      }
      for (const [host, h] of state.groups.entries()) {
        for (const a of h.alerts) alerts.push({ where: host, ts: a.ts, rule: a.rule, host, detail: a.detail });
      }
      alerts.sort((x, y) => x.ts - y.ts || compareStrings(x.rule, y.rule) || compareStrings(x.where, y.where) || compareStrings(x.detail, y.detail));
      connections.sort((x, y) => compareStrings(x.id, y.id));
      const all = state.all;
      return {
        alerts: alerts.map(({ where: _w, ...a }) => a),
        connections: connections.map(({ id: _i, ...c }) => c),
        counters: {
          packets: all.packets,
          connections: all.connections,
          httpRequests: all.httpRequests,
          alerts: Object.fromEntries([...all.alerts].sort((x, y) => compareStrings(x[0], y[0]))),
        },
      };
    };

    return { process, outputs };
  },
};
