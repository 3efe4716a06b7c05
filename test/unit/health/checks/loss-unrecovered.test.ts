import { strict as assert } from 'node:assert';
import { lossUnrecovered } from '../../../../src/health/checks/loss-unrecovered.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

describe('health/checks/loss-unrecovered', () => {
  it('holds while unservable NACKs or unclean answers happened within the window', () => {
    const w = windowOf(sample(0), sample(1000, { unservableNacks: 2, peerBulksUnclean: 1 }));
    assert.equal(lossUnrecovered.evaluate(w, T)?.severity, 'degraded');
    assert.match(lossUnrecovered.evaluate(w, T)?.message ?? '', /2 NACKs .* 1 answers/);
  });

  it('ends once the window has passed without new ones', () => {
    const later = T.lossWindowSeconds * 1000 + 2000;
    const w = windowOf(sample(1000, { unservableNacks: 2 }), sample(later, { unservableNacks: 2 }));
    assert.equal(lossUnrecovered.evaluate(w, T), undefined);
  });
});
