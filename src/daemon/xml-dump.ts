// The caches in conntrackd's XML (`-i -x`, `-e -x`, `-i expect -x`, `-e expect -x`): one line per
// live object, for the stock client's action codes and for ctsync's `dump-text` with format xml.
//
// conntrackd's internal cache holds the kernel's whole message of each flow: its id and every
// tuple field. ctsync's keeps the sync wire attributes, which lack the id and some tuple fields
// (GRE keys, UDP-Lite ports, tuple zones). Rather than widen every cached record for what only
// this dump shows, those are read from the kernel table when the dump is asked for: one kernel
// dump per `-i -x`, matched by flow key (tuples never change in a flow's life). A flow the
// kernel no longer has (its destruction is on its way) prints from the cache alone.
import { flowKey } from '../conntrack/key.js';
import { formatCacheEntryXml, formatCacheExpectXml, type KernelFlow } from '../conntrack/xml.js';
import { ObjectState, type CacheObject, type CacheView } from '../cache/sync-cache.js';
import type { ExpectCache, ExpectObject } from '../cache/expect-cache.js';
import type { KernelPort } from '../engine/ports/kernel.js';

function* live<O extends CacheObject | ExpectObject>(objects: Iterable<O>): Generator<O> {
  for (const obj of objects) if (obj.state !== ObjectState.DEAD) yield obj;
}

/** The kernel's flows by flow key: id and tuples. */
async function kernelFlows(kernel: KernelPort): Promise<Map<string, KernelFlow>> {
  const flows = new Map<string, KernelFlow>();
  await kernel.dump({}, (e) => flows.set(flowKey(e), { id: e.id, orig: e.orig, reply: e.reply }));
  return flows;
}

/** XML lines of a conntrack cache; `kernel` given for the internal cache (see above). */
export async function* conntrackXmlLines(
  cache: CacheView,
  external: boolean,
  kernel?: KernelPort,
): AsyncGenerator<string> {
  const flows = kernel && !external ? await kernelFlows(kernel) : undefined;
  for (const obj of live(cache.values())) {
    const e = cache.entry(obj);
    yield formatCacheEntryXml(e, external, flows?.get(flowKey(e)));
  }
}

/** XML lines of an expectation cache. */
export function* expectXmlLines(cache: ExpectCache): Generator<string> {
  for (const obj of live(cache.values())) yield formatCacheExpectXml(cache.expect(obj));
}

/** Lines joined into chunks of about 64 KiB, each line ending in a newline (the stock client's stream). */
export async function* chunked(lines: AsyncIterable<string> | Iterable<string>): AsyncGenerator<string> {
  let chunk = '';
  for await (const line of lines) {
    chunk += line + '\n';
    if (chunk.length > 65536) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}
