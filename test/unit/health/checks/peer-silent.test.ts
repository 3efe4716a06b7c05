import { strict as assert } from 'node:assert';
import { peerSilent } from '../../../../src/health/checks/peer-silent.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

describe('health/checks/peer-silent', () => {
  it('holds once the peer has been silent longer than the limit', () => {
    assert.equal(peerSilent.evaluate(windowOf(sample(10_000, { peerLastRxAt: 0 })), T), undefined);
    const r = peerSilent.evaluate(windowOf(sample(10_001, { peerLastRxAt: 0 })), T);
    assert.deepEqual(r, { severity: 'degraded', message: 'no message from the peer for 10 s (limit 10 s)' });
  });

  it('counts from start-up before the first message', () => {
    const r = peerSilent.evaluate(windowOf(sample(30_000, { peerLastRxAt: -Infinity, startedAt: 5000 })), T);
    assert.match(r?.message ?? '', /since start-up, 25 s ago/);
  });
});
