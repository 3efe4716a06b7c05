// The TCP channel's message splitter (src/sync/stream-framer.ts): however the stream is cut into
// reads, the same messages come out in order; an impossible length is refused with an error naming
// its offset, after every message before it was delivered, and the framer starts afresh.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { StreamFramer, StreamFramingError } from '../../../src/sync/stream-framer.js';
import { CTL_RANGE_LEN, FLAG, HDR_LEN, MSG, encodeControl } from '../../../src/sync/wire.js';

/** A data message of `len` bytes (header + filler), numbered `seq`. */
function dataMessage(len: number, seq: number, type: number = MSG.CT_NEW): Uint8Array {
  const m = new Uint8Array(len);
  m[0] = (1 << 4) | type;
  m[2] = len >> 8;
  m[3] = len & 0xff;
  new DataView(m.buffer).setUint32(4, seq);
  for (let i = HDR_LEN; i < len; i++) m[i] = (seq + i) & 0xff;
  return m;
}

function ack(seq: number): Uint8Array {
  const m = new Uint8Array(CTL_RANGE_LEN);
  encodeControl(m, 0, FLAG.ACK, seq, 1, seq);
  return m;
}

const concat = (parts: readonly Uint8Array[]): Uint8Array => Uint8Array.from(parts.flatMap((p) => [...p]));

/** Splits `bytes` at the given cut points (sorted, deduplicated, inside the stream). */
function cut(bytes: Uint8Array, at: readonly number[]): Uint8Array[] {
  const points = [...new Set(at.map((p) => p % (bytes.length + 1)))].sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points, bytes.length]) {
    out.push(bytes.slice(from, p));
    from = p;
  }
  return out;
}

/** Runs the framer over the reads; the messages it delivered, each copied, split at their lengths. */
function frame(framer: StreamFramer, reads: readonly Uint8Array[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const r of reads) framer.push(r, (run) => out.push(...splitRun(run)));
  return out;
}

function splitRun(run: Uint8Array): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (let o = 0; o < run.length;) {
    const len = (run[o + 2] << 8) | run[o + 3];
    out.push(run.slice(o, o + len));
    o += len;
  }
  return out;
}

const messageArb = fc.oneof(
  fc.tuple(fc.integer({ min: HDR_LEN, max: 1500 }), fc.nat()).map(([len, seq]) => dataMessage(len, seq)),
  fc.nat().map((seq) => ack(seq)),
);

describe('sync/stream-framer', () => {
  it('delivers messages whole, in order, however the stream is cut into reads', () => {
    fc.assert(
      fc.property(fc.array(messageArb, { maxLength: 30 }), fc.array(fc.nat(), { maxLength: 40 }), (msgs, at) => {
        const stream = concat(msgs);
        const framer = new StreamFramer();
        const got = frame(framer, cut(stream, at));
        assert.deepEqual(got, msgs);
        assert.equal(framer.pending, 0);
      }),
    );
  });

  it('delivers a read of whole messages as one run, in place', () => {
    const a = dataMessage(40, 1);
    const b = ack(1);
    const read = concat([a, b]);
    const runs: Uint8Array[] = [];
    new StreamFramer().push(read, (run) => runs.push(run));
    assert.equal(runs.length, 1);
    assert.equal(runs[0]!.buffer, read.buffer, 'no copy when nothing was held');
    assert.equal(runs[0]!.length, read.length);
  });

  it('holds a partial message until its last byte arrives', () => {
    const m = dataMessage(100, 7);
    const framer = new StreamFramer();
    const got: Uint8Array[] = [];
    framer.push(m.subarray(0, 3), (r) => got.push(r.slice()));
    framer.push(m.subarray(3, 99), (r) => got.push(r.slice()));
    assert.equal(got.length, 0);
    assert.equal(framer.pending, 99);
    framer.push(m.subarray(99), (r) => got.push(r.slice()));
    assert.deepEqual(got, [m]);
    assert.equal(framer.pending, 0);
  });

  for (const [name, bad, length] of [
    ['a zero length', dataMessage(HDR_LEN, 9).fill(0, 2, 4), 0],
    ['a length shorter than the header', Object.assign(dataMessage(HDR_LEN, 9), { 3: 5 }), 5],
    ['an ACK shorter than its range', Object.assign(ack(3), { 3: HDR_LEN }), HDR_LEN],
  ] as const) {
    it(`refuses ${name}, after delivering the messages before it`, () => {
      const before = [dataMessage(60, 1), ack(1)];
      const framer = new StreamFramer();
      const got: Uint8Array[] = [];
      const stream = concat([...before, bad, dataMessage(60, 2)]);
      assert.throws(
        () => framer.push(stream, (r) => got.push(...splitRun(r))),
        (err: unknown) =>
          err instanceof StreamFramingError &&
          err.streamOffset === 60 + CTL_RANGE_LEN &&
          err.length === length &&
          /message at byte 76 .*resetting the connection/.test(err.message),
      );
      assert.deepEqual(got, before);
      assert.equal(framer.pending, 0, 'reset: nothing held from the broken stream');
    });
  }

  it('finds a bad length in any cut of the stream, after every message before it', () => {
    fc.assert(
      fc.property(
        fc.array(messageArb, { maxLength: 10 }),
        fc.integer({ min: 0, max: HDR_LEN - 1 }),
        fc.array(fc.nat(), { maxLength: 20 }),
        (msgs, badLen, at) => {
          const bad = dataMessage(HDR_LEN, 5);
          bad[2] = 0;
          bad[3] = badLen;
          const stream = concat([...msgs, bad, ...msgs]);
          const framer = new StreamFramer();
          const got: Uint8Array[] = [];
          let error: unknown;
          for (const r of cut(stream, at)) {
            try {
              framer.push(r, (run) => got.push(...splitRun(run)));
            } catch (err) {
              error = err;
              break;
            }
          }
          assert.ok(error instanceof StreamFramingError);
          assert.equal(error.streamOffset, concat(msgs).length);
          assert.deepEqual(got, msgs);
        },
      ),
    );
  });

  it('starts a new stream after reset()', () => {
    const framer = new StreamFramer();
    framer.push(dataMessage(50, 1).subarray(0, 20), () => assert.fail('incomplete'));
    framer.reset();
    const m = dataMessage(30, 2);
    assert.deepEqual(frame(framer, [m]), [m]);
  });
});
