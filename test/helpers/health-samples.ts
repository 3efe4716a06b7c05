// Health samples for the unit tests of src/health/: a quiet, synced node at a given time, with
// whatever a test changes.
import { HEALTH_DEFAULTS } from '../../src/health/config.js';
import type { HealthSample, SampleWindow } from '../../src/health/finding.js';

export const T = HEALTH_DEFAULTS.thresholds;

export function sample(at: number, over: Partial<HealthSample> = {}): HealthSample {
  return {
    at,
    startedAt: 0,
    peerLastRxAt: at,
    unservableNacks: 0,
    peerBulksUnclean: 0,
    resendQueue: { length: 0, capacity: 1000 },
    evicted: 0,
    overruns: 0,
    sync: { tracked: true, synced: true, since: 0 },
    ...over,
  };
}

/** A window over `samples` (oldest first), the last being now. */
export function windowOf(...samples: HealthSample[]): SampleWindow {
  const now = samples[samples.length - 1]!;
  return {
    now,
    since: (seconds) => samples.find((s) => s.at >= now.at - seconds * 1000) ?? now,
  };
}
