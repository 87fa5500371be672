/**
 * Connection tracking after Zeek, from facts that do not depend on packet order: who opened a
 * connection, each TCP endpoint's state (inactive, SYN sent, SYN-ACK sent, partial, established,
 * closed, reset) and the conn.log state name (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH,
 * SH, SHR, OTH) are derived from the flags each side sent (sets), the earliest FIN and RST of each
 * side (capture times), and byte counts from sequence-number bounds.
 *
 * Zeek runs a state machine over packets in arrival order. Its outcome depends on that order only
 * in the cases below, which are decided here by fixed rules instead:
 * - a RST after both sides sent a FIN leaves the sender closed (Zeek ignores it); "after" is by
 *   capture time, a RST at the same time as the later FIN counting as after it;
 * - an endpoint that sent a SYN is in SYN sent (or established, once the peer sent a SYN or
 *   SYN-ACK) even if it sent data before it; a responder whose only packets are empty ACKs to an
 *   originator's SYN stays inactive, as with the stacks that ACK a SYN before answering it.
 */
import { type Conn, type Side, type SideName, SENT_ACK, SENT_DATA, SENT_FIN, SENT_RST, SENT_SYN, SENT_SYNACK,
  TCP_CLOSED, TCP_ESTABLISHED, TCP_INACTIVE, TCP_PARTIAL, TCP_RESET, TCP_SYN_ACK_SENT, TCP_SYN_SENT } from './state.js';

/** The endpoint whose earliest packet came first (`a` on a tie). */
function earliest(c: Conn): SideName {
  if (c.a.first < 0) return 'b';
  if (c.b.first < 0) return 'a';
  return c.b.first < c.a.first ? 'b' : 'a';
}

/**
 * The originator: the sender of a SYN (without ACK), else the receiver of a SYN-ACK, else the
 * endpoint whose earliest packet has the smallest capture time (for UDP always this one). When
 * both endpoints sent a SYN, or both a SYN-ACK, the earliest decides too.
 */
export function clientOf(c: Conn, isTcp: boolean): SideName {
  if (isTcp) {
    const synA = (c.a.flags & SENT_SYN) !== 0;
    const synB = (c.b.flags & SENT_SYN) !== 0;
    if (synA !== synB) return synA ? 'a' : 'b';
    if (!synA) {
      const saA = (c.a.flags & SENT_SYNACK) !== 0;
      const saB = (c.b.flags & SENT_SYNACK) !== 0;
      if (saA !== saB) return saA ? 'b' : 'a';
    }
  }
  return earliest(c);
}

/** True once the originator is known from a SYN or SYN-ACK rather than from packet times alone. */
export function clientSettled(c: Conn): boolean {
  return ((c.a.flags | c.b.flags) & (SENT_SYN | SENT_SYNACK)) !== 0;
}

/**
 * The stream offset of sequence number `seq` of a side: sequence numbers are taken within 2^31
 * of the highest offset seen, so offsets grow past 2^32 on long connections.
 */
export function seqOffset(s: Side, seq: number): number {
  if (s.base < 0) return 0;
  return s.hi + ((seq - ((s.base + s.hi) >>> 0)) | 0);
}

/** Records a sequence range [off, off + len) a side used (len 0: the ISN + 1 of a SYN). */
export function coverRange(s: Side, seq: number, off: number, len: number): void {
  if (s.base < 0) {
    s.base = seq >>> 0;
    s.lo = 0;
    s.hi = len;
    return;
  }
  if (off < s.lo) s.lo = off;
  if (off + len > s.hi) s.hi = off + len;
}

/** Payload bytes a side sent: UDP payloads summed; for TCP, as Zeek, the span of sequence numbers its data covered (from ISN + 1 when the SYN was seen). */
export function sideBytes(s: Side, isTcp: boolean): number {
  if (!isTcp) return s.bytes;
  return s.flags & SENT_DATA ? s.hi - s.lo : 0;
}

/** Whether a side's RST counts: Zeek ignores a RST after both sides closed, unless the peer had reset first. */
function resetCounts(x: Side, y: Side): boolean {
  if (!(x.flags & SENT_RST)) return false;
  if (x.finTs < 0 || y.finTs < 0) return true;
  const bothClosed = Math.max(x.finTs, y.finTs);
  return x.rstTs < bothClosed || ((y.flags & SENT_RST) !== 0 && y.rstTs < bothClosed);
}

/** Zeek's TCP endpoint states of the originator `o` and the responder `r`. */
export function endpointStates(o: Side, r: Side): [number, number] {
  const rSyn = (r.flags & (SENT_SYN | SENT_SYNACK)) !== 0;
  let os: number;
  if (resetCounts(o, r)) os = TCP_RESET;
  else if (o.flags & SENT_FIN) os = TCP_CLOSED;
  else if (o.flags & SENT_SYN) os = rSyn ? TCP_ESTABLISHED : TCP_SYN_SENT;
  else if (o.flags & SENT_SYNACK) os = TCP_SYN_ACK_SENT;
  else if (o.packets > 0) os = o.flags & SENT_ACK && rSyn ? TCP_ESTABLISHED : TCP_PARTIAL; // the SYN was missed, the SYN-ACK was not
  else os = TCP_INACTIVE;
  let rs: number;
  if (resetCounts(r, o)) rs = TCP_RESET;
  else if (r.flags & SENT_FIN) rs = TCP_CLOSED;
  else if (rSyn) rs = TCP_ESTABLISHED;
  else if (r.packets > 0) rs = r.flags & SENT_DATA || !(o.flags & SENT_SYN) ? TCP_PARTIAL : TCP_INACTIVE;
  else rs = TCP_INACTIVE;
  return [os, rs];
}

/** The conn.log state name of a connection whose originator is `client`. */
export function connState(c: Conn, isTcp: boolean, client: SideName): string {
  const o = client === 'a' ? c.a : c.b;
  const r = client === 'a' ? c.b : c.a;
  if (!isTcp) {
    if (o.packets > 0) return r.packets > 0 ? 'SF' : 'S0';
    return r.packets > 0 ? 'SHR' : 'OTH';
  }
  const [os, rs] = endpointStates(o, r);
  const oInactive = os === TCP_INACTIVE || os === TCP_PARTIAL;
  const rInactive = rs === TCP_INACTIVE || rs === TCP_PARTIAL;
  if (rs === TCP_RESET) {
    if (os === TCP_SYN_SENT || os === TCP_SYN_ACK_SENT || (os === TCP_RESET && sideBytes(o, true) === 0 && sideBytes(r, true) === 0)) return 'REJ';
    return oInactive ? 'RSTRH' : 'RSTR';
  }
  if (os === TCP_RESET) return rInactive ? (o.flags & SENT_SYN ? 'RSTOS0' : 'OTH') : 'RSTO';
  if (os === TCP_CLOSED && rs === TCP_CLOSED) return 'SF';
  if (os === TCP_CLOSED) return rInactive ? 'SH' : 'S2';
  if (rs === TCP_CLOSED) return oInactive ? 'SHR' : 'S3';
  if (os === TCP_SYN_SENT && rs === TCP_INACTIVE) return 'S0';
  if (os === TCP_ESTABLISHED && rs === TCP_ESTABLISHED) return 'S1';
  return 'OTH';
}
