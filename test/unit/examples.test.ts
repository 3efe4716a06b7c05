// The shipped example configurations stay valid.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfig } from '../../src/config/load.js';

function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!fs.existsSync(path.join(dir, 'package.json'))) dir = path.dirname(dir);
  return dir;
}

describe('example configurations in etc/', function () {
  for (const file of ['etc/ctsync.json', 'etc/ctsync.conf']) {
    it(`${file} loads without errors or warnings`, async function () {
      const { config, warnings } = await loadConfig(path.join(repoRoot(), file));
      assert.deepEqual(warnings, []);
      assert.equal(config.sync.channels[0].kind, 'udp');
    });
  }
});
