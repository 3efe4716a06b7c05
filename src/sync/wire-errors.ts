// What cannot be put on the sync wire, and how the encoders say it.
import { parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';

/** An entry or expectation that cannot be put on the sync wire; the message names the field. */
export class WireEncodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WireEncodeError';
  }
}

/**
 * Parses the address text `s` of field `what` into out[p] (4 or 16 bytes); throws
 * WireEncodeError naming the field when it is missing or not an address of the family.
 */
export function addrInto(s: string, v6: boolean, out: Uint8Array, p: number, what: string): void {
  if (typeof s !== 'string') throw new WireEncodeError(`${what}: missing address`);
  try {
    if (v6) parseIPv6Into(s, out, p);
    else parseIPv4Into(s, out, p);
  } catch (err) {
    throw new WireEncodeError(`${what}: ${(err as Error).message}`);
  }
}

/** A name attribute longer than conntrackd peers accept (`maxLen`: largest nta_len, NUL included). */
export function nameTooLong(what: string, s: string, maxLen: number): WireEncodeError {
  return new WireEncodeError(
    `${what}: '${s}' is ${Buffer.byteLength(s)} bytes, conntrackd peers accept at most ${maxLen - 5}`,
  );
}
