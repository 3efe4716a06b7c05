// src/sync/ftfw-options.ts: FtFwOptions resolved once into one frozen object.
import { strict as assert } from 'node:assert';
import { FtFw } from '../../../src/sync/ftfw.js';
import { resolveFtFwOptions } from '../../../src/sync/ftfw-options.js';

const env = { now: () => 0, setTimer: () => 0, clearTimer: () => undefined };

describe('ftfw options', () => {
  it('fills in the defaults: conntrackd figures, every improvement on', () => {
    const o = resolveFtFwOptions({});
    assert.equal(o.ackWindowSize, 300);
    assert.equal(o.resendQueueSize, 131072);
    assert.equal(o.lingerMs, 3000);
    assert.equal(o.objectLimit, 131072 - 1024);
    assert.equal(o.startupResync, true);
    for (const k of [
      'resyncOnPeerRestart',
      'bulkOnPeerRestart',
      'replayHelloPhase',
      'bulkOnStartup',
      'ackHoleRetransmit',
      'bulkOnUnservableNack',
      'reconcile',
      'stallRecovery',
    ] as const) {
      assert.equal(o[k], true, k);
    }
  });

  it('conntrackdCompat turns every improvement off, whatever else is asked', () => {
    const o = resolveFtFwOptions({
      conntrackdCompat: true,
      reconcile: true,
      flowControl: true,
      retransmitTimeoutPeriods: 5,
      bulkMinGapMs: 500,
    });
    assert.equal(o.reconcile, false);
    assert.equal(o.objectLimit, Infinity);
    assert.equal(o.retransmitTimeoutPeriods, 0);
    assert.equal(o.bulkMinGapMs, 0);
    assert.equal(o.startupResync, false, "conntrackd's default");
    assert.equal(
      resolveFtFwOptions({ conntrackdCompat: true, startupResync: true }).startupResync,
      true,
      'a conntrackd option is honoured',
    );
  });

  it('is one frozen object, the one the FtFw runs with', () => {
    const fw = new FtFw(env, {}, { ackWindowSize: 7 });
    assert.ok(Object.isFrozen(fw.settings));
    assert.equal(fw.settings.ackWindowSize, 7);
    assert.throws(() => {
      (fw.settings as { ackWindowSize: number }).ackWindowSize = 8;
    }, TypeError);
  });

  it('names the first bad option', () => {
    assert.throws(
      () => resolveFtFwOptions({ ackWindowSize: 0, resendQueueSize: -1 }),
      /ackWindowSize must be a positive integer, got 0/,
    );
    assert.throws(
      () => resolveFtFwOptions({ helloLingerPeriods: 1.5 }),
      /helloLingerPeriods must be a non-negative integer/,
    );
  });
});
