// A commit worker's first module: the thread leaves the scheduling policy it inherited from the
// thread that created it (pthread's default: the daemon's main thread, real-time under a
// `Scheduler` clause) for SCHED_IDLE, then loads the worker itself (commit-worker.ts). The pool
// starts its workers when the external cache takes its first entry, usually in the middle of
// a burst of received flows, and their start and warm-up take a second of CPU: at SCHED_IDLE
// they take only CPU time nothing else wants. The worker returns to SCHED_OTHER when it is warm;
// a commit that waits for a warm-up returns it at once (CommitPool, through the thread id it is
// told here). Measured on two cores in the failover lab, both gateways on one machine: the
// demoted node's workers warming up at the default policy during the new master's commit made
// that commit of 100k flows take 0.65-0.82 s instead of 0.24-0.30 s.
import { parentPort } from 'node:worker_threads';
import { SchedPolicy, nativeAddon } from '../native.js';
import type { CommitReply } from './commit-pool.js';

const addon = nativeAddon();
// lowering the policy is always allowed; should it fail, the warm-up runs at the inherited one
addon.setThreadScheduler(SchedPolicy.IDLE, 0);
// idle already when the pool hears of it: a commit's hurry is not undone
const reply: CommitReply = { type: 'starting', tid: addon.threadId() };
parentPort!.postMessage(reply);
await import('./commit-worker.js');
