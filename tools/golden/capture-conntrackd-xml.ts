#!/usr/bin/env node
// Captures conntrackd 1.4.7's XML cache dumps (`-i ct -x`, `-e ct -x`, `-i expect -x`,
// `-e expect -x`) with the cache contents they were printed from, as fixtures for
// test/unit/conntrack/xml.test.ts:
//
//   sudo node dist/tools/golden/capture-conntrackd-xml.js [--out DIR]
//   (after `npm run build`; default DIR test/fixtures/conntrackd-output; its xml-* files are replaced)
//
// Setting: tools/golden/xml-scenario.ts (namespaces `ctsync-xmlgold-…`, removed on exit and
// failure; a conntrackd and a ctsync on each side, entries of many shapes in A's kernel).
// Output, per dump NAME (internal-ct, external-ct, internal-expect, external-expect):
//   xml-NAME.txt         conntrackd's lines, sorted (its own sync flows left out)
//   xml-NAME.cache.jsonl the same cache as ctsync holds it (`ctsync -C … -i|-e [expect] --json`)
//   xml-internal-ct.kernel.jsonl  A's kernel table (`ctsync ct list --json`): ids and tuples
//   xml-capture.json     how and with what they were made
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ctsyncBin } from '../lib/netns.js';
import { repoRoot } from '../lib/repo.js';
import { DUMPS, XmlScenario, flowsAfter, flowsBefore, ftp, isSyncFlow } from './xml-scenario.js';

const { values } = parseArgs({
  options: { out: { type: 'string', default: path.join(repoRoot(), 'test/fixtures/conntrackd-output') } },
});
const outDir = path.resolve(values.out!);

const scenario = await XmlScenario.start('xmlgold');
try {
  fs.mkdirSync(outDir, { recursive: true });
  for (const d of await scenario.dumps())
    fs.writeFileSync(path.join(outDir, `xml-${d.name}.txt`), d.conntrackd.join('\n') + '\n');
  for (const d of DUMPS) {
    const json: string[] = [...d.args.filter((a) => a !== '-x'), '--json'];
    const r = await scenario.nodes[d.side].ctsync.client(json);
    if (r.exitCode !== 0) throw new Error(`ctsync ${json.join(' ')}: ${r.stderr}`);
    const lines = r.stdout.split('\n').filter((l) => l !== '' && !isSyncFlow(xmlishPorts(l)));
    fs.writeFileSync(path.join(outDir, `xml-${d.name}.cache.jsonl`), lines.join('\n') + '\n');
  }
  const k = await scenario.nsA.exec(process.execPath, [ctsyncBin(), 'ct', 'list', '--json']);
  if (k.exitCode !== 0) throw new Error(`ct list: ${k.stderr}`);
  fs.writeFileSync(path.join(outDir, 'xml-internal-ct.kernel.jsonl'), k.stdout);
  const version = spawnSync('conntrackd', ['-v'], { encoding: 'utf8' }).stdout.split('\n')[0];
  const meta = {
    conntrackd: version,
    kernel: os.release(),
    made: 'tools/golden/capture-conntrackd-xml.ts with the setting of tools/golden/xml-scenario.ts',
    inserted: { beforeStart: flowsBefore(), afterStart: flowsAfter(), ftp: ftp() },
  };
  fs.writeFileSync(path.join(outDir, 'xml-capture.json'), JSON.stringify(meta, null, 2) + '\n');
  process.stdout.write(`captured into ${outDir}\n`);
} finally {
  await scenario.destroy();
}

/** A JSON entry's ports in the XML spelling, for isSyncFlow. */
function xmlishPorts(jsonLine: string): string {
  const e = JSON.parse(jsonLine) as { orig?: { sport?: number; dport?: number } };
  return `<sport>${e.orig?.sport ?? ''}</sport><dport>${e.orig?.dport ?? ''}</dport>`;
}
