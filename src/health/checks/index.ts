// Every health check, in the order findings are listed. A new finding is one module here.
import type { HealthCheck } from '../finding.js';
import { cacheDivergence } from './cache-divergence.js';
import { lossUnrecovered } from './loss-unrecovered.js';
import { overrunsRepeating } from './overruns-repeating.js';
import { peerSilent } from './peer-silent.js';
import { resendQueueFull } from './resend-queue-full.js';
import { unsynced } from './unsynced.js';

export const HEALTH_CHECKS: readonly HealthCheck[] = [
  peerSilent,
  lossUnrecovered,
  resendQueueFull,
  overrunsRepeating,
  cacheDivergence,
  unsynced,
];
