import { strict as assert } from 'node:assert';
import { SyncTracker } from '../../../src/health/sync-state.js';

const RETRY = 120_000;

describe('health/sync-state', () => {
  it('starts unsynced and asks for the peer table at once', () => {
    const t = new SyncTracker(1000, 0, true, RETRY);
    assert.deepEqual(t.status(), { tracked: true, synced: false, reason: 'start-up', since: 1000 });
    assert.equal(t.resyncDue(1000), true);
    t.asked(1000);
    assert.equal(t.resyncDue(2000), false);
    assert.equal(t.resyncDue(1000 + RETRY), true, 'asked again when no answer came');
  });

  it('is synced by a clean answer to a RESYNC sent after the cache became incomplete', () => {
    const t = new SyncTracker(0, 0, true, RETRY);
    assert.equal(t.answer(1, true, 5000, 1), true);
    assert.deepEqual(t.status(), { tracked: true, synced: true, since: 5000 });
    assert.equal(t.resyncDue(10 * RETRY), false);
  });

  it('ignores answers to RESYNCs sent before a peer restart or a flush', () => {
    const t = new SyncTracker(0, 0, true, RETRY);
    t.answer(1, true, 1000, 1);
    t.invalidate('peer-restart', 2000, 1, true);
    assert.equal(t.status().reason, 'peer-restart');
    assert.equal(t.resyncDue(2000), false, 'FT-FW asks a restarted peer itself');
    assert.equal(t.resyncDue(2000 + RETRY), true);
    assert.equal(t.answer(1, true, 3000, 1), false, 'the answer to RESYNC 1 predates the restart');
    assert.equal(t.answer(2, true, 4000, 2), true);
    t.invalidate('external-flushed', 5000, 2);
    assert.equal(t.resyncDue(5000), true, 'a flush is repaired by asking at once');
    assert.equal(t.answer(2, true, 6000, 2), false);
  });

  it('stays unsynced after an answer with gaps, and asks again later', () => {
    const t = new SyncTracker(0, 0, true, RETRY);
    assert.equal(t.answer(1, false, 1000, 1), false);
    assert.deepEqual(t.status(), { tracked: true, synced: false, reason: 'answer-unclean', since: 1000 });
    assert.equal(t.resyncDue(1000), false);
    assert.equal(t.answer(2, true, 2000, 2), true);
    assert.equal(t.answer(3, false, 3000, 3), false, 'an answer with gaps while synced');
    assert.equal(t.status().reason, 'answer-unclean');
  });

  it('never asks with StartupResync off, but takes an answer to a resync asked by hand', () => {
    const t = new SyncTracker(0, 0, true, RETRY, false);
    assert.equal(t.resyncDue(10 * RETRY), false);
    assert.equal(t.answer(1, true, 1000, 1), true);
  });

  it('never asks in a mode that cannot tell (NOTRACK)', () => {
    const t = new SyncTracker(0, 0, false, RETRY);
    assert.equal(t.resyncDue(10 * RETRY), false);
    assert.equal(t.status().tracked, false);
  });
});
