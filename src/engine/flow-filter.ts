// makeFilter (conntrack/filter.ts) on a scanned kernel event (event-transcoder.ts) instead of an
// Entry: same rules, same answers, no address text. Tables are built once per rule set.
import { makeFilter, parsePrefix, type FilterRules, type Prefix } from '../conntrack/filter.js';
import { tcpStateName } from '../conntrack/names.js';
import { IPPROTO } from '../netlink/constants.js';
import { AddrKind, type TupleFields } from '../conntrack/flow-fields.js';
import type { EventTranscoder } from './event-transcoder.js';

function inPrefix(b: Uint8Array, p: number, x: Prefix): boolean {
  const pb = x.bytes;
  let bits = x.bits;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[p + i] & mask) !== (pb[i] & mask)) return false;
  }
  return true;
}

/**
 * The predicate makeFilter(rules) is, for a message `t` has scanned (t.scan() returned true):
 * protocol of the original tuple, address rules on the original source and the reply source (an
 * address matches the prefixes of its own kind: an IPv4 attribute against the IPv4 list), TCP
 * state rules for TCP with a state. Throws what makeFilter throws for bad rules.
 */
export function makeEventFilter(rules: FilterRules): (t: EventTranscoder) => boolean {
  makeFilter(rules); // validates the rules, with makeFilter's errors
  // protocol: pass[p] = 1 when protocol p passes
  const protoPass = new Uint8Array(256).fill(1);
  if (rules.protocol) {
    const set = new Set(rules.protocol.protocols);
    const accept = rules.protocol.mode === 'accept';
    for (let p = 0; p < 256; p++) protoPass[p] = set.has(p) === accept ? 1 : 0;
  }
  const addr = rules.address;
  const v4 = addr ? addr.ipv4.map((a) => parsePrefix(a, false)) : [];
  const v6 = addr ? addr.ipv6.map((a) => parsePrefix(a, true)) : [];
  const addrAccept = addr?.mode === 'accept';
  const statePass = new Uint8Array(256).fill(1);
  if (rules.state) {
    const states = new Set(rules.state.tcpStates.map((s) => (s === 'CLOSED' ? 'CLOSE' : s)));
    const accept = rules.state.mode === 'accept';
    for (let s = 0; s < 256; s++) {
      const n = tcpStateName(s);
      statePass[s] = states.has(n === 'SYN_SENT2' ? 'LISTEN' : n) === accept ? 1 : 0;
    }
  }

  const matchSrc = (t: TupleFields): boolean => {
    if (!t.present || t.src < 0) return false;
    const list = t.srcKind === AddrKind.V6 ? v6 : v4;
    for (let i = 0; i < list.length; i++) if (inPrefix(t.buf, t.src, list[i])) return true;
    return false;
  };

  return (t: EventTranscoder): boolean => {
    const f = t.upd;
    const proto = f.orig.proto;
    if (protoPass[proto] === 0) return false;
    if (addr && (matchSrc(f.orig) || matchSrc(f.reply)) !== addrAccept) return false;
    if (proto === IPPROTO.TCP && f.tcpState >= 0 && statePass[f.tcpState] === 0) return false;
    return true;
  };
}
