// The shipped example configurations stay valid.
import { strict as assert } from 'node:assert';
import path from 'node:path';
import { loadConfig } from '../../../src/config/load.js';
import { repoRoot } from '../../helpers/fakes.js';

describe('example configurations in etc/', function () {
  for (const file of ['etc/ctsync.json', 'etc/ctsync.conf']) {
    it(`${file} loads without errors or warnings`, async function () {
      const { config, warnings } = await loadConfig(path.join(repoRoot(), file));
      assert.deepEqual(warnings, []);
      assert.equal(config.sync.channels[0].kind, 'udp');
    });
  }
});
