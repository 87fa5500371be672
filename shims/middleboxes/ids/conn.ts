/**
 * Connection tracking after Zeek: each TCP endpoint runs Zeek's endpoint state machine (inactive,
 * SYN sent, SYN-ACK sent, partial, established, closed, reset), the pair of states names the
 * connection as conn.log does (S0, S1, SF, REJ, S2, S3, RSTO, RSTR, RSTOS0, RSTRH, SH, SHR, OTH),
 * and sequence numbers tell new payload bytes from ones already seen.
 */
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from '../../flow/decode.js';
import {
  type Conn, TCP_CLOSED, TCP_ESTABLISHED, TCP_INACTIVE, TCP_PARTIAL, TCP_RESET, TCP_SYN_ACK_SENT, TCP_SYN_SENT,
} from './state.js';

/** Where a segment's payload falls in its direction's stream. */
export interface Placement {
  /** Leading payload bytes already seen (all of them for a retransmission). */
  skip: number;
  /** Stream bytes never seen between the last segment and this one. */
  gap: number;
}

/**
 * Places a TCP segment in its direction's sequence space and advances it. Segments are taken in
 * arrival order: data before the expected sequence number was seen already and is skipped; data
 * after it leaves a gap that is not filled later (an out-of-order segment that arrives after its
 * successor counts as seen).
 */
export function placeSegment(c: Conn, isOrig: boolean, seq: number, flags: number, len: number, out: Placement): void {
  out.skip = 0;
  out.gap = 0;
  if (flags & TCP_RST) {
    // As in Zeek, a RST's payload is not part of the stream.
    out.skip = len;
    return;
  }
  const syn = (flags & TCP_SYN) !== 0;
  const dataSeq = (seq + (syn ? 1 : 0)) >>> 0;
  let next = isOrig ? c.origNext : c.respNext;
  if (next < 0 || (syn && (isOrig ? c.origBytes : c.respBytes) === 0)) next = dataSeq;
  const delta = (dataSeq - next) | 0;
  if (delta > 0) {
    out.gap = delta;
    next = (dataSeq + len) >>> 0;
  } else {
    out.skip = Math.min(-delta, len);
    if (out.skip < len) next = (dataSeq + len) >>> 0;
  }
  // A FIN takes one sequence number, after the data it ends.
  if (flags & TCP_FIN && ((dataSeq + len) >>> 0) === next) next = (next + 1) >>> 0;
  if (isOrig) c.origNext = next;
  else c.respNext = next;
}

/** Zeek's TCP endpoint state machine, for a packet from the originator (`isOrig`) or the responder. */
export function tcpTransition(c: Conn, isOrig: boolean, flags: number, len: number): void {
  let me = isOrig ? c.origState : c.respState;
  let peer = isOrig ? c.respState : c.origState;
  const syn = (flags & TCP_SYN) !== 0;
  const ack = (flags & TCP_ACK) !== 0;
  const fin = (flags & TCP_FIN) !== 0;
  const rst = (flags & TCP_RST) !== 0;
  if (isOrig && syn && !ack) c.origSyn = true;
  switch (me) {
    case TCP_INACTIVE:
      if (syn) {
        if (isOrig) {
          me = ack ? TCP_SYN_ACK_SENT : TCP_SYN_SENT;
        } else {
          // The responder's SYN(-ACK) establishes both sides.
          if (peer === TCP_SYN_SENT) peer = TCP_ESTABLISHED;
          me = TCP_ESTABLISHED;
        }
      }
      if (fin) me = TCP_CLOSED;
      if (rst) me = TCP_RESET;
      if (me === TCP_INACTIVE) {
        if (!isOrig && len === 0 && peer === TCP_SYN_SENT) {
          // Some stacks ACK a SYN before answering it: not yet a partial connection.
        } else if (ack && peer === TCP_ESTABLISHED) {
          me = TCP_ESTABLISHED; // the SYN was missed, the SYN-ACK was not
        } else {
          me = TCP_PARTIAL;
        }
      }
      break;
    case TCP_SYN_SENT:
    case TCP_SYN_ACK_SENT:
      if (fin) me = TCP_CLOSED;
      if (rst) me = TCP_RESET;
      break;
    case TCP_ESTABLISHED:
    case TCP_PARTIAL:
      if (syn && !ack && me === TCP_PARTIAL && peer === TCP_INACTIVE) me = TCP_SYN_SENT;
      if (fin && !rst) me = TCP_CLOSED;
      if (rst) me = TCP_RESET;
      break;
    case TCP_CLOSED:
      // After both sides closed, a RST changes nothing.
      if (rst && peer !== TCP_CLOSED) me = TCP_RESET;
      break;
  }
  if (isOrig) {
    c.origState = me;
    c.respState = peer;
  } else {
    c.respState = me;
    c.origState = peer;
  }
}

/** The conn.log state name of a connection. */
export function connState(c: Conn, isTcp: boolean): string {
  if (!isTcp) {
    if (c.origPackets > 0) return c.respPackets > 0 ? 'SF' : 'S0';
    return c.respPackets > 0 ? 'SHR' : 'OTH';
  }
  const os = c.origState;
  const rs = c.respState;
  const oInactive = os === TCP_INACTIVE || os === TCP_PARTIAL;
  const rInactive = rs === TCP_INACTIVE || rs === TCP_PARTIAL;
  if (rs === TCP_RESET) {
    if (os === TCP_SYN_SENT || os === TCP_SYN_ACK_SENT || (os === TCP_RESET && c.origBytes === 0 && c.respBytes === 0)) return 'REJ';
    return oInactive ? 'RSTRH' : 'RSTR';
  }
  if (os === TCP_RESET) return rInactive ? (c.origSyn ? 'RSTOS0' : 'OTH') : 'RSTO';
  if (os === TCP_CLOSED && rs === TCP_CLOSED) return 'SF';
  if (os === TCP_CLOSED) return rInactive ? 'SH' : 'S2';
  if (rs === TCP_CLOSED) return oInactive ? 'SHR' : 'S3';
  if (os === TCP_SYN_SENT && rs === TCP_INACTIVE) return 'S0';
  if (os === TCP_ESTABLISHED && rs === TCP_ESTABLISHED) return 'S1';
  return 'OTH';
}
