import type { Entry, Tuple } from './entry.js';

/**
 * Stable identity of a flow: the original tuple plus the zone (what the kernel's hash uses).
 * Deliberately excludes the conntrack id, which changes when an entry is re-created (conntrackd
 * 1.4.7 dropped it from its key for the same reason).
 */
export function flowKey(e: Entry): string {
  return tupleKey(e.orig, e.zone ?? 0);
}

export function tupleKey(t: Tuple, zone: number): string {
  // ICMP has no ports; type/code/id identify the flow instead.
  const l4 = t.icmpType !== undefined ? `${t.icmpType}:${t.icmpCode ?? 0}:${t.icmpId ?? 0}` : `${t.sport ?? 0}:${t.dport ?? 0}`;
  return `${zone}|${t.proto}|${t.src}|${t.dst}|${l4}`;
}
