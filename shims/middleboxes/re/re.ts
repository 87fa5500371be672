/**
 * Packet-level redundancy elimination, after EndRE and SmartRE: TCP/UDP payloads are cut into
 * content-defined chunks; a chunk already in the cache (same id and same bytes) is replaced by a
 * short reference, and the encoded packet is emitted; a decoder at the egress rebuilds it.
 * The cache is all-flows state (clone warms a new instance, merge unions caches); each flow's
 * byte counters are per-flow state, and the totals are their sums.
 */
import { PROTO_TCP } from '../../flow/decode.js';
import { type FlowKey } from '../../flow/key.js';
import { compareByFields, type MbState, type MiddleboxDefinition, type OutputMerge, type PacketInput } from '../../shim/definition.js';
import type { ChunkCache } from './cache.js';
import { Chunker } from './chunker.js';
import { DEFAULT_CONFIG, parseReConfig, type ReConfig } from './config.js';
import { ReDecoder } from './decoder.js';
import { encodeFrame } from './encoder.js';
import { encodedTransport } from './frame.js';
import { cacheCodec, type FlowCounters, flowCodec, hostCodec, type NoHostState } from './state.js';

export interface ReFlowOutput extends FlowCounters {
  proto: 'tcp' | 'udp';
  a: { ip: string; port: number };
  b: { ip: string; port: number };
}

const FLOW_ORDER = ['proto', 'a.ip', 'a.port', 'b.ip', 'b.port'];
const flowOrder = compareByFields(FLOW_ORDER);

/**
 * Across instances: flow counters are per-flow state and the totals their sums. Each instance has
 * its own cache (a clone copied it, a merge united two): the pool reports the largest.
 */
const OUTPUTS: OutputMerge = {
  payloadPackets: { merge: 'sum' }, bytesIn: { merge: 'sum' }, encodedBytes: { merge: 'sum' }, bytesSaved: { merge: 'sum' }, chunks: { merge: 'sum' }, hits: { merge: 'sum' },
  cacheHitRatio: { merge: 'ratio', numerator: 'hits', denominator: 'chunks' },
  cache: { merge: 'record', fields: { entries: { merge: 'max' }, bytes: { merge: 'max' }, limit: { merge: 'max' } } },
  flows: { merge: 'concat', orderBy: FLOW_ORDER },
};

function flowOutput(key: FlowKey, f: FlowCounters): ReFlowOutput {
  return { proto: key.proto === PROTO_TCP ? 'tcp' : 'udp', a: key.a, b: key.b, ...f };
}

export const re: MiddleboxDefinition<ReConfig, FlowCounters, NoHostState, ChunkCache> = {
  type: 're',
  description: 'redundancy elimination: content-defined chunks of TCP/UDP payloads replaced by references to a shared chunk cache, decoded at the egress',
  partitionKey: 'flow',
  // The chunk cache is knowledge every instance benefits from: new instances start with a copy.
  sharedAllFlows: true,
  defaultConfig: DEFAULT_CONFIG,
  outputs: OUTPUTS,
  parseConfig: parseReConfig,
  perFlow: flowCodec,
  multiFlow: hostCodec,
  allFlows: cacheCodec,
  createLogic(state: MbState<FlowCounters, NoHostState, ChunkCache>, config: () => ReConfig, out) {
    let chunkerFor = config();
    let chunker = new Chunker(chunkerFor);

    const process = ({ packet, d, flow }: PacketInput): void => {
      const l4 = flow ? encodedTransport(packet.data, d) : -1;
      if (!flow || l4 < 0) {
        out.emit(packet);
        return;
      }
      const cfg = config();
      if (cfg !== chunkerFor) {
        // A put-config: chunk with the new parameters from now on.
        chunker = new Chunker(cfg);
        chunkerFor = cfg;
      }
      const cache = state.all;
      if (cache.limit !== cfg.cacheBytes) cache.fit(cfg.cacheBytes);
      let f = state.flows.get(flow.id);
      if (!f) {
        f = { payloadPackets: 0, bytesIn: 0, encodedBytes: 0, bytesSaved: 0, chunks: 0, hits: 0 };
        state.flows.set(flow.id, flow.key, f);
      }
      const data = encodeFrame(packet.data, d, l4, chunker, cache, f);
      // The encoded frame is all there is of the packet now: its wire length is its length.
      out.emit({ ...packet, origLen: data.length, data });
    };

    const outputs = () => {
      const flows: ReFlowOutput[] = [];
      const t = { payloadPackets: 0, bytesIn: 0, encodedBytes: 0, bytesSaved: 0, chunks: 0, hits: 0 };
      for (const [, { key, state: f }] of state.flows.entries()) {
        flows.push(flowOutput(key, f));
        t.payloadPackets += f.payloadPackets;
        t.bytesIn += f.bytesIn;
        t.encodedBytes += f.encodedBytes;
        t.bytesSaved += f.bytesSaved;
        t.chunks += f.chunks;
        t.hits += f.hits;
      }
      flows.sort(flowOrder);
      const c = state.all;
      return {
        ...t,
        cacheHitRatio: t.chunks === 0 ? 0 : t.hits / t.chunks,
        cache: { entries: c.entries.size, bytes: c.bytes, limit: c.limit },
        flows,
      };
    };

    return { process, outputs };
  },
  // A new bound applies at once: the least recently used chunks go until the cache fits it.
  reconfigure: (state, config) => {
    if (state.all.limit !== config.cacheBytes) state.all.fit(config.cacheBytes);
  },
  createEgress: (config) => new ReDecoder(config),
};
