// What every part of an FtFw (handshake, bulk, sender, receiver) works with; each part extends
// FtFwPart and takes the parts it talks to besides.
import type { FtFwQueues } from './ftfw-queue.js';
import type { FtFwNotices } from './ftfw-notices.js';
import type { FtFwSettings } from './ftfw-options.js';
import type { FtFwCounters, FtFwEnv } from './ftfw-types.js';

/** The FtFw's resolved options, environment, queues, notices and counters. */
export interface FtFwCore<O> {
  readonly opts: FtFwSettings;
  readonly env: FtFwEnv;
  readonly q: FtFwQueues<O>;
  readonly notices: FtFwNotices;
  readonly st: FtFwCounters;
}

export abstract class FtFwPart<O> {
  protected readonly opts: FtFwSettings;
  protected readonly env: FtFwEnv;
  protected readonly q: FtFwQueues<O>;
  protected readonly notices: FtFwNotices;
  protected readonly st: FtFwCounters;

  constructor(core: FtFwCore<O>) {
    this.opts = core.opts;
    this.env = core.env;
    this.q = core.q;
    this.notices = core.notices;
    this.st = core.st;
  }
}
