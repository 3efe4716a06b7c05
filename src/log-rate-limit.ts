// Rate limiting of log messages, per kind of message: a burst is let through, what follows in the
// same window is counted and summarised in one line when the window ends. No I/O and no clock of
// its own: the clock and timers come in as a port, the summary goes out through `emit`.

/** Time as the limiter needs it (injected: a unit test drives it without sleeping). */
export interface RateLimitClock {
  /** Milliseconds. */
  now(): number;
  /** Calls `fire` after `ms` milliseconds; the handle is for clearTimer. */
  setTimer(ms: number, fire: () => void): unknown;
  clearTimer(handle: unknown): void;
}

export interface RateLimitOptions {
  /** Messages of one kind let through at the start of a window. Default 5. */
  burst?: number;
  /** The first window's length. Default 10 s. */
  windowMs?: number;
  /** The longest window (windows double while a flood lasts). Default 60 s. */
  maxWindowMs?: number;
  /** Kinds tracked at once; beyond, the rest of a level share one kind. Default 256. */
  maxKinds?: number;
}

/**
 * What makes two messages "the same": their level and their text with every run of digits (and
 * of hex letters joined to digits) replaced by '#'. Call sites interpolate counts, addresses,
 * ports, pids into their messages; keying on the text with those taken out keeps every call site
 * a plain `log.warn(text)` and still tells kinds apart by their words. The summary line shows the
 * last suppressed message itself, so its numbers are the latest ones.
 */
export function messageKind(level: string, message: string): string {
  return `${level} ${message.replace(/[0-9a-f]*[0-9][0-9a-f]*/gi, '#')}`;
}

interface Window {
  level: string;
  start: number;
  length: number;
  /** Messages still let through in this window (the burst, or 0 while a flood lasts). */
  allowance: number;
  suppressed: number;
  lastSuppressed: string;
  timer?: unknown;
  /** The shared kind of a level's messages once maxKinds kinds are tracked. */
  overflow: boolean;
}

/**
 * Per kind (messageKind): the first `burst` messages of a window pass, later ones are suppressed
 * and counted, and when the window ends one line of the same level says
 * "<last suppressed message> (N more like it in the last 10 s)". Nothing is lost: every
 * suppressed message is in a count. While a kind keeps coming, the next window lets none through
 * and is twice as long (up to maxWindowMs), so a flood that lasts hours costs one line a minute;
 * a window that passes without the kind ends it, and the next one starts with a burst again.
 */
export class LogRateLimiter {
  private readonly burst: number;
  private readonly windowMs: number;
  private readonly maxWindowMs: number;
  private readonly maxKinds: number;
  private readonly windows = new Map<string, Window>();

  constructor(
    private readonly clock: RateLimitClock,
    private readonly emit: (level: string, message: string) => void,
    opts: RateLimitOptions = {},
  ) {
    this.burst = opts.burst ?? 5;
    this.windowMs = opts.windowMs ?? 10_000;
    this.maxWindowMs = Math.max(opts.maxWindowMs ?? 60_000, this.windowMs);
    this.maxKinds = opts.maxKinds ?? 256;
  }

  /** Whether to log this message now; false: it was counted for its window's summary. */
  admit(level: string, message: string): boolean {
    const now = this.clock.now();
    let key = messageKind(level, message);
    let w = this.current(key, now);
    if (!w && this.windows.size >= this.maxKinds) {
      this.sweep(now);
      if (this.windows.size >= this.maxKinds) {
        key = `${level} \0overflow`;
        w = this.current(key, now);
      }
    }
    if (!w) {
      w = {
        level,
        start: now,
        length: this.windowMs,
        allowance: this.burst,
        suppressed: 0,
        lastSuppressed: '',
        overflow: key.endsWith('\0overflow'),
      };
      this.windows.set(key, w);
    }
    if (w.allowance > 0) {
      w.allowance--;
      return true;
    }
    w.suppressed++;
    w.lastSuppressed = message;
    // a window with something to report ends by its timer (never in admit(), which runs inside
    // a log call: the summary would come out after the message being logged)
    w.timer ??= this.clock.setTimer(Math.max(0, w.start + w.length - now), () => this.close(key));
    return false;
  }

  /** Emits the summaries of the windows still open (before the log closes). */
  flush(): void {
    const now = this.clock.now();
    for (const w of this.windows.values()) {
      if (w.timer !== undefined) this.clock.clearTimer(w.timer);
      if (w.suppressed > 0) this.emit(w.level, this.summary(w, Math.max(1, Math.ceil((now - w.start) / 1000))));
    }
    this.windows.clear();
  }

  /** Kinds tracked now (for tests). */
  get kinds(): number {
    return this.windows.size;
  }

  /** The kind's window, unless it ended without anything to report (then it is forgotten). */
  private current(key: string, now: number): Window | undefined {
    const w = this.windows.get(key);
    if (w && w.suppressed === 0 && now >= w.start + w.length) {
      this.windows.delete(key);
      return undefined;
    }
    return w;
  }

  /** The end of a window with suppressed messages: its summary, and a longer window without a burst. */
  private close(key: string): void {
    const w = this.windows.get(key);
    if (!w) return;
    this.emit(w.level, this.summary(w, Math.round(w.length / 1000)));
    w.start = this.clock.now();
    w.length = Math.min(w.length * 2, this.maxWindowMs);
    w.allowance = 0;
    w.suppressed = 0;
    w.lastSuppressed = '';
    w.timer = undefined;
  }

  private summary(w: Window, seconds: number): string {
    if (w.overflow)
      return `${w.suppressed} more ${w.level} messages of other kinds in the last ${seconds} s (too many kinds at once to count them apart)`;
    return `${w.lastSuppressed} (${w.suppressed} more like it in the last ${seconds} s)`;
  }

  /** Forgets the windows that ended with nothing to report. */
  private sweep(now: number): void {
    for (const [key, w] of this.windows) if (w.suppressed === 0 && now >= w.start + w.length) this.windows.delete(key);
  }
}
