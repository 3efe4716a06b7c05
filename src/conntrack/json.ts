// Entry -> one JSON line, written by hand because it is the hot path of `ct list --json`: fixed
// field order and plain concatenation run about twice as fast as JSON.stringify on decoded
// entries. The output parses to the same object JSON.stringify would give (a unit test holds it
// to that); only the key order is ours.
import type { Entry, Tuple } from './entry.js';

function tuple(t: Tuple): string {
  // addresses are canonical IP text: nothing to escape
  let s = '{"src":"' + t.src + '","dst":"' + t.dst + '","proto":' + t.proto;
  if (t.sport !== undefined) s += ',"sport":' + t.sport;
  if (t.dport !== undefined) s += ',"dport":' + t.dport;
  if (t.icmpType !== undefined) s += ',"icmpType":' + t.icmpType;
  if (t.icmpCode !== undefined) s += ',"icmpCode":' + t.icmpCode;
  if (t.icmpId !== undefined) s += ',"icmpId":' + t.icmpId;
  if (t.zone !== undefined) s += ',"zone":' + t.zone;
  return s + '}';
}

/** Small nested records (tcp, counters, ...): all values are numbers or strings. */
function record(o: object): string {
  let s = '';
  for (const k in o) {
    const v = (o as Record<string, unknown>)[k];
    if (v === undefined) continue;
    s += (s ? ',"' : '{"') + k + '":' + (typeof v === 'number' ? v : JSON.stringify(v));
  }
  return s ? s + '}' : '{}';
}

export function entryToJson(e: Entry): string {
  let s = '{"family":' + e.family + ',"orig":' + tuple(e.orig);
  if (e.reply !== undefined) s += ',"reply":' + tuple(e.reply);
  if (e.master !== undefined) s += ',"master":' + tuple(e.master);
  if (e.status !== undefined) s += ',"status":' + e.status;
  if (e.timeout !== undefined) s += ',"timeout":' + e.timeout;
  if (e.mark !== undefined) s += ',"mark":' + e.mark;
  if (e.zone !== undefined) s += ',"zone":' + e.zone;
  if (e.use !== undefined) s += ',"use":' + e.use;
  if (e.id !== undefined) s += ',"id":' + e.id;
  if (e.secmark !== undefined) s += ',"secmark":' + e.secmark;
  if (e.secctx !== undefined) s += ',"secctx":' + JSON.stringify(e.secctx);
  if (e.helper !== undefined) s += ',"helper":' + JSON.stringify(e.helper);
  if (e.labels !== undefined) s += ',"labels":"' + e.labels + '"';
  if (e.labelsMask !== undefined) s += ',"labelsMask":"' + e.labelsMask + '"';
  if (e.tcp !== undefined) s += ',"tcp":' + record(e.tcp);
  if (e.sctp !== undefined) s += ',"sctp":' + record(e.sctp);
  if (e.dccp !== undefined) s += ',"dccp":' + record(e.dccp);
  if (e.natSrc !== undefined) s += ',"natSrc":' + record(e.natSrc);
  if (e.natDst !== undefined) s += ',"natDst":' + record(e.natDst);
  if (e.seqAdjOrig !== undefined) s += ',"seqAdjOrig":' + record(e.seqAdjOrig);
  if (e.seqAdjReply !== undefined) s += ',"seqAdjReply":' + record(e.seqAdjReply);
  if (e.countersOrig !== undefined) s += ',"countersOrig":' + record(e.countersOrig);
  if (e.countersReply !== undefined) s += ',"countersReply":' + record(e.countersReply);
  if (e.timestampStart !== undefined) s += ',"timestampStart":"' + e.timestampStart + '"';
  if (e.timestampStop !== undefined) s += ',"timestampStop":"' + e.timestampStop + '"';
  if (e.synproxy !== undefined) s += ',"synproxy":' + record(e.synproxy);
  if (e.unknown !== undefined) s += ',"unknown":' + JSON.stringify(e.unknown);
  return s + '}';
}
