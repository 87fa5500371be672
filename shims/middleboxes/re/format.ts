/**
 * The encoded payload. Every TCP/UDP payload the RE passes on starts with a one-byte marker:
 *
 *   RAW      0x00, then the original payload unchanged. Payloads of at most REF_BYTES bytes:
 *            no chunk of them could be replaced by a shorter reference, and the cache is untouched.
 *   ENCODED  0x01, u32 original length, u32 CRC-32 of the original payload, then one segment per
 *            chunk, in order:
 *              literal    0x00, u16 length, the chunk's bytes
 *              reference  0x01, 8-byte chunk id (a 53-bit integer), u16 length
 *
 * Integers are big-endian. A reference is REF_BYTES long, so only chunks longer than that are
 * looked up, referenced and cached (on both sides: the decoder caches every literal chunk longer
 * than REF_BYTES, which mirrors the encoder). The length and CRC let the decoder check what it
 * rebuilt independently of the encoder's cache. Packets with no TCP/UDP payload (non-IP, other
 * protocols, fragments, bare ACKs) have no payload to mark and pass through unchanged; both sides
 * tell them apart by their headers (see frame.ts).
 */

export const MARK_RAW = 0x00;
export const MARK_ENCODED = 0x01;
export const SEG_LITERAL = 0x00;
export const SEG_REFERENCE = 0x01;

/** Marker, original length, CRC-32. */
export const ENCODED_HEADER = 9;
export const LITERAL_HEADER = 3;
export const REF_BYTES = 11;
