import { strict as assert } from 'node:assert';
import { syncGate, trackFileValue } from '../../../src/health/sync-gate.js';

describe('health/sync-gate', () => {
  const unsynced = { tracked: true, synced: false, reason: 'peer-restart' as const, since: 0 };

  it('closes for an unsynced backup, opens when synced', () => {
    const closed = syncGate(unsynced, 'backup');
    assert.equal(closed.pass, false);
    assert.match(closed.why, /peer restarted/);
    assert.equal(syncGate({ tracked: true, synced: true, since: 0 }, 'backup').pass, true);
    assert.equal(syncGate(unsynced, undefined).pass, false, 'without the failover layer as well');
  });

  it('opens for the master (its external cache is not used) and in NOTRACK mode', () => {
    assert.equal(syncGate(unsynced, 'active').pass, true);
    assert.equal(syncGate(unsynced, 'promoting').pass, true);
    assert.equal(syncGate({ tracked: false, synced: false, since: 0 }, 'backup').pass, true);
  });

  it('writes 0 or minus the weight for keepalived', () => {
    assert.equal(trackFileValue({ pass: true, why: '' }, 50), '0\n');
    assert.equal(trackFileValue({ pass: false, why: '' }, 50), '-50\n');
  });
});
