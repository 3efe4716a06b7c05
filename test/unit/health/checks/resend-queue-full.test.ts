import { strict as assert } from 'node:assert';
import { resendQueueFull } from '../../../../src/health/checks/resend-queue-full.js';
import { T, sample, windowOf } from '../../../helpers/health-samples.js';

describe('health/checks/resend-queue-full', () => {
  it('holds when the queue is nearly full', () => {
    const q = (length: number) => windowOf(sample(0, { resendQueue: { length, capacity: 1000 } }));
    assert.equal(resendQueueFull.evaluate(q(899), T), undefined);
    assert.equal(resendQueueFull.evaluate(q(900), T)?.message, 'resend queue 900 of 1000');
  });

  it('holds when entries were evicted within the window', () => {
    const w = windowOf(sample(0), sample(1000, { evicted: 5 }));
    assert.equal(
      resendQueueFull.evaluate(w, T)?.message,
      'resend queue 0 of 1000, 5 entries evicted in the last 300 s',
    );
  });
});
