// Pure helpers of the daemon's start-up.
import { strict as assert } from 'node:assert';
import { argvWithSingleThreadedGc } from '../../src/daemon/daemon.js';

describe('argvWithSingleThreadedGc (daemon restart for a real-time Scheduler)', () => {
  it('puts the flag first, keeps node\'s other flags and the script\'s arguments', () => {
    assert.deepEqual(argvWithSingleThreadedGc(['--cpu-prof'], ['/usr/bin/node', '/x/main.js', '-C', 'c.conf']),
      ['/usr/bin/node', '--single-threaded-gc', '--cpu-prof', '/x/main.js', '-C', 'c.conf']);
  });

  it('nothing to do when the flag is there (no restart loop)', () => {
    assert.equal(argvWithSingleThreadedGc(['--single-threaded-gc'], ['/usr/bin/node', '/x/main.js']), undefined);
  });
});
