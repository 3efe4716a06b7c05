// Everything the sync engine talks to outside the process, handed in by its owner: the daemon
// builds the real ones (production/ports.ts), the unit tests fakes.
import type { EngineClock } from './clock.js';
import type { CommitPoolPort } from './commit-pool.js';
import type { KernelPort } from './kernel.js';
import type { PeerChannel } from './peer-channel.js';

export type { EngineClock, TimerHandle } from './clock.js';
export type { CommitPoolPort } from './commit-pool.js';
export type { KernelEventHandlers, KernelEventOptions, KernelEventSource, KernelPort } from './kernel.js';
export type { PeerChannel, PeerChannelHandlers } from './peer-channel.js';

export interface EnginePorts {
  kernel: KernelPort;
  channel: PeerChannel;
  commitPool: CommitPoolPort;
  clock: EngineClock;
}
