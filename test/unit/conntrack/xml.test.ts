// conntrackd's XML against conntrackd 1.4.7 itself. Fixtures test/fixtures/conntrackd-output/xml-*
// (captured by tools/golden/capture-conntrackd-xml.ts; rerun it to recapture): for each of the
// four dumps, conntrackd's lines and the same cache as ctsync held it (JSON), and for the
// internal cache A's kernel table (ids and tuples, as the daemon reads them for `-i -x`).
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { flowKey } from '../../../src/conntrack/key.js';
import {
  formatCacheEntryXml,
  formatCacheExpectXml,
  formatEntryXml,
  formatExpectXml,
  type KernelFlow,
} from '../../../src/conntrack/xml.js';
import type { Entry, Expect } from '../../../src/conntrack/entry.js';

const fixture = (name: string): string =>
  fs.readFileSync(
    fileURLToPath(new URL(`../../../../test/fixtures/conntrackd-output/${name}`, import.meta.url)),
    'utf8',
  );

const lines = (text: string): string[] => text.split('\n').filter((l) => l !== '');
const jsonLines = <T>(name: string): T[] => lines(fixture(name)).map((l) => JSON.parse(l) as T);

describe('conntrack/xml: conntrackd -x', function () {
  it('-i ct -x: byte-equal to conntrackd for the same cache and kernel table', function () {
    const kernel = new Map<string, KernelFlow>();
    for (const e of jsonLines<Entry>('xml-internal-ct.kernel.jsonl')) kernel.set(flowKey(e), e);
    const ours = jsonLines<Entry>('xml-internal-ct.cache.jsonl').map((e) =>
      formatCacheEntryXml(e, false, kernel.get(flowKey(e))),
    );
    assert.deepEqual(ours.sort(), lines(fixture('xml-internal-ct.txt')));
  });

  it('-e ct -x: byte-equal to conntrackd for the same cache', function () {
    const ours = jsonLines<Entry>('xml-external-ct.cache.jsonl').map((e) => formatCacheEntryXml(e, true));
    assert.deepEqual(ours.sort(), lines(fixture('xml-external-ct.txt')));
  });

  for (const which of ['internal', 'external']) {
    it(`-${which[0]} expect -x: byte-equal to conntrackd for the same cache`, function () {
      const ours = jsonLines<Expect>(`xml-${which}-expect.cache.jsonl`).map((x) => formatCacheExpectXml(x));
      assert.deepEqual(ours.sort(), lines(fixture(`xml-${which}-expect.txt`)));
    });
  }

  it('prints the SCTP and DCCP states with the TCP names, as the library does', function () {
    const sctp: Entry = { family: 2, orig: { src: '192.0.2.1', dst: '192.0.2.2', proto: 132, sport: 1, dport: 2 } };
    assert.match(formatEntryXml({ ...sctp, sctp: { state: 4 } }), /<state>FIN_WAIT<\/state>/);
    assert.match(formatEntryXml({ ...sctp, orig: { ...sctp.orig, proto: 33 }, dccp: { state: 12 } }), /<state>NONE</);
  });

  it('leaves out the independent part when the object has none of its fields', function () {
    const e: Entry = { family: 10, orig: { src: '2001:db8::1', dst: '2001:db8::2', proto: 58, icmpType: 128 } };
    assert.equal(
      formatEntryXml(e),
      '<flow><meta direction="original"><layer3 protonum="10" protoname="ipv6"><src>2001:db8::1</src>' +
        '<dst>2001:db8::2</dst></layer3><layer4 protonum="58" protoname="icmpv6"></layer4></meta>' +
        '<meta direction="reply"><layer3 protonum="0" protoname="unknown"><src></src><dst></dst></layer3>' +
        '<layer4 protonum="0" protoname="unknown"></layer4></meta></flow>',
    );
  });

  it('prints the flags of an expectation as empty tags', function () {
    const t = { src: '192.0.2.1', dst: '192.0.2.2', proto: 6, sport: 0, dport: 21 };
    const x: Expect = { family: 2, master: t, tuple: t, mask: t, flags: 7, class: 0, timeout: 30 };
    assert.match(
      formatExpectXml(x),
      /<meta><timeout>30<\/timeout><class>0<\/class><permanent\/><inactive\/><userspace\/><\/meta>/,
    );
    assert.doesNotMatch(formatCacheExpectXml(x), /timeout/);
  });
});
