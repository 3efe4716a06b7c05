// The JSON-line schemas (src/conntrack/schema.ts) and the JSONL reader (src/conntrack/jsonl.ts):
// what `ct expect list --json` prints is accepted back unchanged, hand-written expectations get
// their mask completed the way the kernel dumps it, and every bad line is named with its reason.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import { checkEntry, checkExpect } from '../../../src/conntrack/schema.js';
import { parseEntries, parseExpects, parseLines } from '../../../src/conntrack/jsonl.js';
import { tuple, u16, u32 } from '../../helpers/arbitraries.js';
import type { Expect } from '../../../src/conntrack/entry.js';

const master = { src: '192.0.2.10', dst: '198.51.100.20', proto: 6, sport: 40000, dport: 21 };
const expected = { src: '192.0.2.10', dst: '198.51.100.20', proto: 6, sport: 0, dport: 50000 };
/** An IPv4 expectation as `ct expect list --json` prints it (Linux 6.18 dump). */
const dumped: Expect = {
  family: 2,
  master,
  tuple: expected,
  mask: { src: '255.255.255.255', dst: '255.255.255.255', proto: 6, sport: 0, dport: 65535 },
  timeout: 299,
  id: 3215358448,
  flags: 0,
  class: 0,
  helper: 'ftp',
};

/** Expectations shaped like kernel dumps: full mask, optional NAT pair, every optional field. */
function expectArb(family: 2 | 10): fc.Arbitrary<Expect> {
  return fc
    .tuple(
      tuple(family),
      tuple(family),
      tuple(family),
      fc.option(fc.tuple(fc.constantFrom(0, 1), tuple(family)), { nil: undefined }),
    )
    .chain(([m, t, mask, nat]) =>
      fc.record(
        {
          family: fc.constant(family),
          master: fc.constant(m),
          tuple: fc.constant(t),
          mask: fc.constant({ ...mask, proto: t.proto }),
          timeout: u32,
          id: u32,
          flags: u32,
          class: u32,
          zone: u16,
          helper: fc.string({ minLength: 1, maxLength: 15 }),
          fn: fc.string({ minLength: 1, maxLength: 30 }),
          ...(nat ? { natDir: fc.constant(nat[0]), natTuple: fc.constant(nat[1]) } : {}),
        },
        {
          requiredKeys: ['family', 'master', 'tuple', 'mask', ...(nat ? (['natDir', 'natTuple'] as const) : [])],
          noNullPrototype: true,
        },
      ),
    );
}

const errorOf = (value: unknown): string => {
  try {
    checkExpect(value);
  } catch (err) {
    return (err as Error).message;
  }
  return '';
};

describe('checkExpect', function () {
  it('accepts a dumped expectation unchanged', function () {
    assert.deepEqual(checkExpect(JSON.parse(JSON.stringify(dumped))), dumped);
  });

  it('accepts whatever a dump can hold and returns it unchanged (JSON round trip)', function () {
    fc.assert(
      fc.property(fc.oneof(expectArb(2), expectArb(10)), (x) => {
        assert.deepEqual(checkExpect(JSON.parse(JSON.stringify(x))), x);
      }),
      { numRuns: 1000 },
    );
  });

  it('completes a mask given by its source part, and a NAT tuple without destination, as the kernel dumps them', function () {
    const input = {
      family: 10,
      master: { ...master, src: '2001:db8::10', dst: '2001:db8:1::20' },
      tuple: { ...expected, src: '2001:db8::10', dst: '2001:db8:1::20' },
      mask: { src: 'ffff:ffff:ffff:ffff::', sport: 0 },
      natDir: 1,
      natTuple: { src: '2001:db8::11', proto: 6, sport: 5000 },
    };
    const frozen = JSON.stringify(input);
    const x = checkExpect(input);
    assert.deepEqual(x.mask, {
      src: 'ffff:ffff:ffff:ffff::',
      dst: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      proto: 6,
      sport: 0,
    });
    assert.deepEqual(Object.keys(x.mask), ['src', 'dst', 'proto', 'sport'], 'dump field order');
    assert.deepEqual(x.natTuple, { src: '2001:db8::11', dst: '::', proto: 6, sport: 5000 });
    assert.equal(JSON.stringify(input), frozen, 'the input is not modified');
  });

  it('names the bad field', function () {
    assert.equal(errorOf({ ...dumped, mask: undefined }), "expectation: missing field 'mask'");
    assert.equal(errorOf({ family: 2, tuple: expected, mask: dumped.mask }), "expectation: missing field 'master'");
    assert.equal(errorOf({ ...dumped, family: 4 }), 'family: must be one of 2, 10');
    assert.equal(errorOf({ ...dumped, tuple: { ...expected, dport: 70000 } }), 'tuple.dport: must be <= 65535');
    assert.equal(errorOf({ ...dumped, mask: { sport: 0 } }), "mask: missing field 'src'");
    assert.equal(errorOf({ ...dumped, orig: master }), "expectation: unknown field 'orig'");
    assert.equal(
      errorOf({ ...dumped, helper: 'a-helper-name-too-long' }),
      'helper: must NOT have more than 15 characters',
    );
    assert.equal(errorOf({ ...dumped, natDir: 2, natTuple: master }), 'natDir: must be one of 0, 1');
    assert.equal(errorOf({ ...dumped, natDir: 1 }), 'natTuple: missing (NAT needs both natDir and natTuple)');
    assert.equal(errorOf({ ...dumped, natTuple: master }), 'natDir: missing (NAT needs both natDir and natTuple)');
    assert.equal(errorOf({ ...dumped, natDir: 0, natTuple: { src: '192.0.2.1' } }), "natTuple: missing field 'proto'");
  });

  it('rejects addresses of the other family, naming the tuple', function () {
    assert.equal(errorOf({ ...dumped, family: 10 }), 'master: address family does not match family 10 (ipv6)');
    assert.equal(
      errorOf({ ...dumped, tuple: { ...expected, dst: '2001:db8::1' } }),
      'tuple: address family does not match family 2 (ipv4)',
    );
    assert.equal(
      errorOf({ ...dumped, mask: { src: 'ffff::' } }),
      'mask: address family does not match family 2 (ipv4)',
    );
    assert.equal(
      errorOf({ ...dumped, natDir: 1, natTuple: { src: '2001:db8::1', proto: 6 } }),
      'natTuple: address family does not match family 2 (ipv4)',
    );
  });
});

describe('JSON-lines reader', function () {
  it('parseExpects: items with their line numbers; every bad line named, none skipped silently', async function () {
    const text = [
      '# a comment',
      JSON.stringify(dumped),
      '',
      '{"family":2,',
      JSON.stringify({ ...dumped, mask: undefined }),
      JSON.stringify({ ...dumped, tuple: { ...expected, dport: 50001 } }),
    ].join('\n');
    const r = await parseExpects(text, 'x.jsonl');
    assert.deepEqual(
      r.items.map((x) => x.tuple.dport),
      [50000, 50001],
    );
    assert.deepEqual(r.lines, [2, 6]);
    assert.equal(r.errors.length, 2);
    assert.match(r.errors[0], /^x\.jsonl:4: not valid JSON: /);
    assert.equal(r.errors[1], "x.jsonl:5: expectation: missing field 'mask'");
  });

  it('parseEntries still reads entries (and rejects an expectation line)', async function () {
    const entry = { family: 2, orig: master, timeout: 100 };
    const r = await parseEntries([JSON.stringify(entry), JSON.stringify(dumped)].join('\n') + '\n', 'e.jsonl');
    assert.deepEqual(r.entries, [entry]);
    assert.deepEqual(r.lines, [1]);
    assert.deepEqual(r.errors, ["e.jsonl:2: entry: missing field 'orig'"]);
    assert.deepEqual(checkEntry(entry), entry);
  });

  it('parseLines takes any checker; a last line without newline counts', function () {
    const r = parseLines('1\n"x"\n3', 's', (v) => {
      if (typeof v !== 'number') throw new Error('not a number');
      return v;
    });
    assert.deepEqual(r, { items: [1, 3], lines: [1, 3], errors: ['s:2: not a number'] });
  });
});
