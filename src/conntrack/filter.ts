// Which flows are replicated: conntrackd's `Filter` clauses (protocol, address, TCP state).
// Applied to events, dumps and resyncs alike. Pure.
import type { Entry } from './entry.js';
import { parseIPv4Into, parseIPv6Into } from '../netlink/ip.js';
import { tcpStateName } from './names.js';

export interface FilterRules {
  protocol?: { mode: 'accept' | 'ignore'; protocols: number[] };
  address?: { mode: 'accept' | 'ignore'; ipv4: string[]; ipv6: string[] };
  state?: { mode: 'accept' | 'ignore'; tcpStates: string[] };
}

export interface Prefix {
  bytes: Uint8Array;
  bits: number;
}

/** `addr[/len]` as bytes and a bit count; throws on a bad address or length. */
export function parsePrefix(text: string, v6: boolean): Prefix {
  const [addr, len] = text.split('/');
  const bytes = new Uint8Array(v6 ? 16 : 4);
  if (v6) parseIPv6Into(addr, bytes, 0);
  else parseIPv4Into(addr, bytes, 0);
  const bits = len === undefined ? bytes.length * 8 : Number(len);
  if (!Number.isInteger(bits) || bits < 0 || bits > bytes.length * 8) throw new Error(`bad prefix length in '${text}'`);
  return { bytes, bits };
}

function inPrefix(addr: Uint8Array, p: Prefix): boolean {
  if (addr.length !== p.bytes.length) return false;
  let bits = p.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((addr[i] & mask) !== (p.bytes[i] & mask)) return false;
  }
  return true;
}

const scratch4 = new Uint8Array(4);
const scratch16 = new Uint8Array(16);

function addrBytes(text: string): Uint8Array {
  if (text.includes(':')) {
    parseIPv6Into(text, scratch16, 0);
    return scratch16;
  }
  parseIPv4Into(text, scratch4, 0);
  return scratch4;
}

/** State names as the filter config spells them (`CLOSE`, and `LISTEN` for the kernel's SYN_SENT2). */
function filterStateName(state: number): string {
  const n = tcpStateName(state);
  return n === 'SYN_SENT2' ? 'LISTEN' : n;
}

/**
 * Builds the predicate "replicate this flow?". Address rules look at both real endpoints: the
 * original source and the reply source (the server, or its NATed address), as conntrackd does.
 */
export function makeFilter(rules: FilterRules): (e: Entry) => boolean {
  const protocols = rules.protocol ? new Set(rules.protocol.protocols) : undefined;
  const protoAccept = rules.protocol?.mode === 'accept';
  const prefixes = rules.address
    ? [...rules.address.ipv4.map((a) => parsePrefix(a, false)), ...rules.address.ipv6.map((a) => parsePrefix(a, true))]
    : undefined;
  const addrAccept = rules.address?.mode === 'accept';
  const states = rules.state ? new Set(rules.state.tcpStates.map((s) => (s === 'CLOSED' ? 'CLOSE' : s))) : undefined;
  const stateAccept = rules.state?.mode === 'accept';

  const matches = (text: string | undefined): boolean => {
    if (!text || !prefixes) return false;
    const b = addrBytes(text);
    for (const p of prefixes) if (inPrefix(b, p)) return true;
    return false;
  };

  return (e: Entry): boolean => {
    if (protocols && protocols.has(e.orig.proto) !== protoAccept) return false;
    if (prefixes) {
      const hit = matches(e.orig.src) || matches(e.reply?.src);
      if (hit !== addrAccept) return false;
    }
    if (states && e.orig.proto === 6 && e.tcp?.state !== undefined) {
      if (states.has(filterStateName(e.tcp.state)) !== stateAccept) return false;
    }
    return true;
  };
}
