// What every flow of the SyncEngine (kernel intake, reception, kernel resync, committer) works
// with; each flow extends EngineFlow and takes the flows it talks to besides. The fields are
// copied onto the flow, so a hot path reads `this.caches`, not `this.ctx.caches`.
import type { CtsyncConfig } from '../config/model.js';
import type { Logger } from '../log.js';
import type { SyncProtocol } from '../sync/sync-protocol.js';
import type { EngineCaches } from './engine-caches.js';
import type { KernelInjector } from './kernel-inject.js';
import type { EngineClock } from './ports/clock.js';
import type { KernelPort } from './ports/kernel.js';
import type { ReplicationFilter } from './replication-filter.js';
import type { SyncItem, Transmitter } from './transmitter.js';

/** The engine's configuration, log, caches, Filter, protocol, transmitter and ports. */
export interface EngineContext {
  readonly config: CtsyncConfig;
  readonly log: Logger;
  readonly caches: EngineCaches;
  readonly filter: ReplicationFilter;
  /** The sync mode: FT-FW, or NOTRACK (sync-mode.ts). */
  readonly ftfw: SyncProtocol<SyncItem>;
  readonly tx: Transmitter;
  readonly kernel: KernelPort;
  readonly clock: EngineClock;
  /** ExpectationSync on: expectations are fed, sent, stored and committed. */
  readonly expectations: boolean;
  /** DisableExternalCache on: what the peer sends goes into the kernel, not the external cache. */
  readonly injector?: KernelInjector;
}

export abstract class EngineFlow {
  protected readonly config: CtsyncConfig;
  protected readonly log: Logger;
  protected readonly caches: EngineCaches;
  protected readonly filter: ReplicationFilter;
  protected readonly ftfw: SyncProtocol<SyncItem>;
  protected readonly tx: Transmitter;
  protected readonly kernel: KernelPort;
  protected readonly clock: EngineClock;
  protected readonly expectations: boolean;

  constructor(ctx: EngineContext) {
    this.config = ctx.config;
    this.log = ctx.log;
    this.caches = ctx.caches;
    this.filter = ctx.filter;
    this.ftfw = ctx.ftfw;
    this.tx = ctx.tx;
    this.kernel = ctx.kernel;
    this.clock = ctx.clock;
    this.expectations = ctx.expectations;
  }
}
