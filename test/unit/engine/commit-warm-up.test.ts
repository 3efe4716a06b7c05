// The commit workers' warm-up samples must show the encoder every wire attribute it handles:
// an attribute first met in a real commit deoptimizes the encoder in the middle of it.
import { strict as assert } from 'node:assert';
import { NlWriter } from '../../../src/netlink/attr.js';
import { CT_ATTRS, encodeCtAttrs } from '../../../src/sync/wire-attrs.js';
import { scanTimeout, writeScannedCreate } from '../../../src/engine/commit-encoder.js';
import { warmUpSamples } from '../../../src/engine/commit-warm-up.js';

describe('commit warm-up samples', () => {
  const samples = warmUpSamples();
  const scratch = Buffer.alloc(4096);

  it('carry every conntrack wire attribute, and TCP with and without window scaling', () => {
    const seen = new Set<number>();
    for (const { entry, windowTracking } of samples) {
      const end = encodeCtAttrs(scratch, 0, entry, { tcpWindowTracking: windowTracking });
      for (let o = 0; o + 4 <= end;) {
        const len = scratch.readUInt16BE(o);
        seen.add(scratch.readUInt16BE(o + 2));
        o += (len + 3) & ~3;
      }
    }
    const missing = CT_ATTRS.filter((a) => !seen.has(a.id)).map((a) => a.name);
    assert.deepEqual(missing, [], 'attributes no sample has');
    const tcp = samples.filter((s) => s.entry.tcp?.state !== undefined);
    assert.ok(tcp.some((s) => s.windowTracking) && tcp.some((s) => !s.windowTracking));
  });

  it('are mostly plain flows, and each one encodes into a create request', () => {
    const plain = samples.filter(
      ({ entry: e }) =>
        !e.master && !e.helper && !e.labels && !e.zone && !e.sctp && !e.dccp && !e.seqAdjOrig && !e.reply,
    );
    assert.ok(plain.length >= samples.length * 0.75, `${plain.length} plain of ${samples.length}`);
    for (const { entry, windowTracking } of samples) {
      const end = encodeCtAttrs(scratch, 0, entry, { tcpWindowTracking: windowTracking });
      const w = new NlWriter(2048);
      w.beginNf(0x100, 0, 1, entry.family);
      scanTimeout(scratch, 0, end);
      assert.ok(writeScannedCreate(w, scratch, { timeout: 60, liberal: true, update: false }), JSON.stringify(entry));
      w.end();
    }
  });
});
