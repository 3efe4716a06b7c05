// `-x`: ctsync's XML cache dumps are conntrackd 1.4.7's, byte for byte, on the same cache contents.
// A conntrackd and a ctsync run side by side in each of two namespaces (tools/golden/xml-scenario.ts):
// the two on A cache the same kernel table, the two on B receive the same flows. Each of the
// four dumps is compared line for line (sorted: each daemon walks its cache in its own order),
// then read the way VyOS's op-mode reads it (src/op_mode/conntrack_sync.py of vyos-1x).
import { strict as assert } from 'node:assert';
import { spawnSync } from 'node:child_process';
import { XmlScenario } from '../../../tools/golden/xml-scenario.js';
import { requireRoot } from '../../helpers/netns.js';

/**
 * The few lines VyOS's op-mode runs on `conntrackd -C … -i|-e ct|expect -x` (from_xml, then
 * get_formatted_output's reading of each flow), with xmltodict as VyOS has it. Without
 * xmltodict (python3-xmltodict; scripts/setup.sh installs it) the same reading is done with
 * xml.etree, turned into xmltodict's shape (attributes as '@name', repeated tags as lists).
 */
const VYOS_READ = String.raw`
import json, sys
try:
    import xmltodict
    parse, how = xmltodict.parse, 'xmltodict'
except ImportError:
    import xml.etree.ElementTree as ET
    def conv(el):
        d = {'@' + k: v for k, v in el.attrib.items()}
        for c in el:
            v = conv(c)
            if c.tag in d:
                d[c.tag] = d[c.tag] if isinstance(d[c.tag], list) else [d[c.tag]]
                d[c.tag].append(v)
            else:
                d[c.tag] = v
        if not d:
            return el.text
        if el.text and el.text.strip():
            d['#text'] = el.text
        return d
    def parse(line):
        root = ET.fromstring(line)
        return {root.tag: conv(root)}
    how = 'xml.etree'
out = []
for line in sys.stdin.read().splitlines():
    if line == '\n':
        continue
    out.append(parse(line))
rows = []
for parsed in out:
    metas = parsed.get('flow', {}).get('meta', [])
    if not isinstance(metas, list):
        continue  # an expectation: one <meta> without a direction
    for meta in metas:
        if meta['@direction'] == 'original':
            src = meta['layer3']['src']
            dst = meta['layer3']['dst']
            sport = meta['layer4'].get('sport')
            dport = meta['layer4'].get('dport')
            protocol = meta['layer4'].get('@protoname')
            rows.append([f'{src}:{sport}' if sport else src, f'{dst}:{dport}' if dport else dst, protocol])
print(json.dumps({'how': how, 'parsed': out, 'rows': sorted(rows)}))
`;

interface VyosReading {
  how: string;
  parsed: unknown[];
  rows: string[][];
}

function vyosRead(xml: string): VyosReading {
  const r = spawnSync('python3', ['-c', VYOS_READ], { input: xml, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`python3: ${r.stderr}`);
  return JSON.parse(r.stdout) as VyosReading;
}

describe('cli: -x, against conntrackd 1.4.7 on the same caches', function () {
  this.timeout(180_000);
  let scenario: XmlScenario | undefined;
  let dumps: Awaited<ReturnType<XmlScenario['dumps']>>;

  before(async function () {
    requireRoot.call(this, 'conntrackd', 'conntrack', 'iptables', 'python3');
    scenario = await XmlScenario.start('xmlcli');
    dumps = await scenario.dumps();
  });

  after(async function () {
    await scenario?.destroy();
  });

  for (const name of ['internal-ct', 'external-ct', 'internal-expect', 'external-expect']) {
    it(`${name}: the same lines, byte for byte`, function () {
      const d = dumps.find((x) => x.name === name)!;
      assert.ok(d.conntrackd.length >= 4, `conntrackd printed ${d.conntrackd.length} lines`);
      assert.deepEqual(d.ctsync, d.conntrackd);
    });
  }

  it("the stock conntrackd client prints ctsync's XML as ctsync's own client does", async function () {
    for (const [side, args] of [
      ['a', ['-i', '-x']],
      ['b', ['-e', 'expect', '-x']],
    ] as const) {
      const node = scenario!.nodes[side].ctsync;
      const stock = await node.ns.exec('conntrackd', ['-C', node.conf, ...args]);
      assert.equal(stock.exitCode, 0, stock.stderr);
      const ours = await node.client([...args]);
      assert.equal(ours.exitCode, 0, ours.stderr);
      assert.deepEqual(stock.stdout.split('\n').sort(), ours.stdout.split('\n').sort());
    }
  });

  it("VyOS's op-mode reads ctsync's four dumps as it reads conntrackd's", async function () {
    for (const d of dumps) {
      const theirs = vyosRead(d.conntrackd.join('\n') + '\n');
      const ours = vyosRead(d.ctsync.join('\n') + '\n');
      assert.deepEqual(ours.parsed, theirs.parsed, d.name);
      assert.deepEqual(ours.rows, theirs.rows, d.name);
      if (d.name.endsWith('-ct')) {
        assert.ok(
          ours.rows.some((r) => r[0] === '192.0.2.10:40010' && r[2] === 'tcp'),
          `${d.name}: ${ours.how}`,
        );
        assert.ok(
          ours.rows.some((r) => r[0] === '192.0.2.16' && r[2] === 'icmp'),
          `${d.name}: ICMP without ports`,
        );
      }
    }
    console.log(`      (parsed with ${vyosRead('').how})`);
  });

  it('-x is refused without -i or -e, and with --json', async function () {
    const node = scenario!.nodes.a.ctsync;
    for (const args of [['-x'], ['-s', '-x'], ['-i', '-x', '--json']]) {
      const r = await node.client(args);
      assert.notEqual(r.exitCode, 0, args.join(' '));
      assert.match(r.stderr, /-x \(XML\)/, args.join(' '));
    }
  });
});
