// Pure helpers of the daemon's start-up.
import { strict as assert } from 'node:assert';
import { argvWithRealtimeFlags } from '../../../src/daemon/daemon.js';

describe('argvWithRealtimeFlags (daemon restart for a real-time Scheduler)', () => {
  it("puts the flags first, keeps node's other flags and the script's arguments", () => {
    assert.deepEqual(argvWithRealtimeFlags(['--cpu-prof'], ['/usr/bin/node', '/x/main.js', '-C', 'c.conf']), [
      '/usr/bin/node',
      '--single-threaded-gc',
      '--no-concurrent-recompilation',
      '--cpu-prof',
      '/x/main.js',
      '-C',
      'c.conf',
    ]);
  });

  it('adds only what is missing', () => {
    assert.deepEqual(argvWithRealtimeFlags(['--single-threaded-gc'], ['/usr/bin/node', '/x/main.js']), [
      '/usr/bin/node',
      '--no-concurrent-recompilation',
      '--single-threaded-gc',
      '/x/main.js',
    ]);
  });

  it('nothing to do when the flags are there (no restart loop)', () => {
    assert.equal(
      argvWithRealtimeFlags(['--no-concurrent-recompilation', '--single-threaded-gc'], ['/usr/bin/node', '/x/main.js']),
      undefined,
    );
  });
});
