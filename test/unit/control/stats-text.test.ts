// conntrackd's `-s` layouts (src/control/stats-text.ts) that depend on the sync mode.
import { strict as assert } from 'node:assert';
import { queueStats } from '../../../src/control/stats-text.js';
import type { SyncEngine } from '../../../src/engine/sync-engine.js';

const engineIn = (mode: string): SyncEngine =>
  ({
    config: { sync: { mode, resendQueueSize: 131072 } },
    ftfw: { stats: () => ({ rsQueueLen: 0, txQueueLen: 2, rsEvicted: 0 }) },
  }) as unknown as SyncEngine;

describe('control: -s text by sync mode', () => {
  it('-s queue lists the resend queue in Mode FTFW only (conntrackd creates it there alone)', () => {
    assert.match(queueStats(engineIn('ftfw')), /queue rsqueue:/);
    for (const mode of ['notrack', 'alarm']) {
      const text = queueStats(engineIn(mode));
      assert.doesNotMatch(text, /rsqueue/, mode);
      assert.match(text, /queue txqueue:\ncurrent elements:\s+2\n/, mode);
      assert.match(text, /queue errorq:/, mode);
    }
  });
});
