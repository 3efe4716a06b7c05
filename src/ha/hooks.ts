// User hook scripts around transitions: hooks.prePromote / postPromote / preDemote / postDemote.
// A fault transition runs the demote hooks with CTSYNC_TRANSITION=fault.
//
// Each hook runs without a shell (the command is split like a shell would, `"/path" arg`), in its
// own process group, with stdin closed and this environment on top of the daemon's:
//   CTSYNC_TRANSITION  promote | demote | fault
//   CTSYNC_PHASE       pre | post
//   CTSYNC_FROM        role before the transition (starting, backup, active, fault, promoting...)
//   CTSYNC_TO          role the transition goes to (active, backup, fault)
//   CTSYNC_REASON      what caused it (the keepalived FIFO line, the notify arguments, the command)
//   CTSYNC_REASON_SOURCE  fifo | notify | manual | startup
//   CTSYNC_HOOK        prePromote | postPromote | preDemote | postDemote
//   CTSYNC_NODE        ha.node, else the host name
// Its stdout lines are logged at info, stderr lines at warn, as they come. The hook is done when
// its process exits: like keepalived, we do not wait for background children it leaves behind
// (their output is read for drainMs more, then the pipes are closed). After hooks.timeoutMs the
// whole process group gets SIGTERM, and SIGKILL killGraceMs later.
import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';
import type { HookCommand, HooksConfig } from './config.js';
import type { HaLog } from './log.js';
import type { Reason, Role } from './machine.js';

export type HookTransition = 'promote' | 'demote' | 'fault';
export type HookPhase = 'pre' | 'post';
export type HookName = 'prePromote' | 'postPromote' | 'preDemote' | 'postDemote';

export interface HookContext {
  transition: HookTransition;
  phase: HookPhase;
  from: Role;
  to: Role;
  reason: Reason;
}

export type HookResult =
  | { status: 'skipped'; hook: HookName }
  | { status: 'ok'; hook: HookName; command: string; durationMs: number }
  | {
      status: 'failed';
      hook: HookName;
      command: string;
      durationMs: number;
      /** One line: exit code or signal or timeout, plus the last stderr line. */
      reason: string;
      exitCode?: number;
      signal?: string;
      timedOut: boolean;
    };

export interface HookRunnerOptions {
  hooks: Pick<HooksConfig, 'prePromote' | 'postPromote' | 'preDemote' | 'postDemote' | 'timeoutMs'>;
  log: HaLog;
  /** CTSYNC_NODE. Default: os.hostname(). */
  node?: string;
  /** SIGTERM → SIGKILL delay after a timeout. Default 2000. */
  killGraceMs?: number;
  /** How long to keep reading output after the hook exited (background children). Default 200. */
  drainMs?: number;
}

export function hookName(transition: HookTransition, phase: HookPhase): HookName {
  return transition === 'promote'
    ? phase === 'pre'
      ? 'prePromote'
      : 'postPromote'
    : phase === 'pre'
      ? 'preDemote'
      : 'postDemote';
}

/**
 * [file, ...args] of a configured hook command. execa is loaded here, when a hook first runs,
 * not with the daemon: it is ~130 modules and ~3 MB of heap.
 */
export async function splitHookCommand(cmd: HookCommand): Promise<string[]> {
  const parts = typeof cmd === 'string' ? (await import('execa')).parseCommandString(cmd.trim()) : [...cmd];
  if (parts.length === 0 || parts[0] === '') throw new Error('empty hook command');
  return parts;
}

export function hookEnv(ctx: HookContext, node: string): Record<string, string> {
  return {
    CTSYNC_TRANSITION: ctx.transition,
    CTSYNC_PHASE: ctx.phase,
    CTSYNC_FROM: ctx.from,
    CTSYNC_TO: ctx.to,
    CTSYNC_REASON: ctx.reason.detail,
    CTSYNC_REASON_SOURCE: ctx.reason.source,
    CTSYNC_HOOK: hookName(ctx.transition, ctx.phase),
    CTSYNC_NODE: node,
  };
}

function killGroup(pid: number | undefined, signal: NodeJS.Signals): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is gone
  }
}

export class HookRunner {
  private readonly node: string;
  private readonly killGraceMs: number;
  private readonly drainMs: number;

  constructor(private readonly opts: HookRunnerOptions) {
    this.node = opts.node ?? hostname();
    this.killGraceMs = opts.killGraceMs ?? 2000;
    this.drainMs = opts.drainMs ?? 200;
    // with hooks configured, execa is loaded now (in the background), not in a transition's time
    const h = opts.hooks;
    if (h.prePromote ?? h.postPromote ?? h.preDemote ?? h.postDemote) import('execa').catch(() => undefined);
  }

  /** The configured command for a transition and phase (fault uses the demote hooks). */
  commandFor(transition: HookTransition, phase: HookPhase): HookCommand | undefined {
    return this.opts.hooks[hookName(transition, phase)];
  }

  /** Runs the hook for ctx, if one is configured. Never throws. */
  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  async run(ctx: HookContext): Promise<HookResult> {
    const hook = hookName(ctx.transition, ctx.phase);
    const cmd = this.commandFor(ctx.transition, ctx.phase);
    if (cmd === undefined) return { status: 'skipped', hook };
    const log = this.opts.log;
    const timeoutMs = this.opts.hooks.timeoutMs;
    const started = performance.now();
    const elapsed = () => Math.round(performance.now() - started);
    let file: string;
    let args: string[];
    try {
      [file, ...args] = (await splitHookCommand(cmd)) as [string, ...string[]];
    } catch (err) {
      return {
        status: 'failed',
        hook,
        command: String(cmd),
        durationMs: 0,
        reason: (err as Error).message,
        timedOut: false,
      };
    }
    const command = [file, ...args].map((a) => (/[\s"'\\]/.test(a) ? JSON.stringify(a) : a)).join(' ');
    const tag = `ha: hook ${hook} (${ctx.transition})`;
    log.verbose(`${tag}: running ${command}`);

    const { execa } = await import('execa');
    const sub = execa(file, args, {
      env: hookEnv(ctx, this.node),
      extendEnv: true,
      stdin: 'ignore',
      buffer: false,
      reject: false,
      detached: true, // own process group: a timeout kills the hook's children too
    });
    const lastErr: string[] = [];
    const follow = (stream: Readable | null, isErr: boolean) => {
      if (!stream) return;
      const rl = createInterface({ input: stream, crlfDelay: Infinity });
      rl.on('line', (line) => {
        if (isErr) {
          log.warn(`${tag} stderr: ${line}`);
          if (line.trim() !== '') {
            lastErr.push(line.trim());
            if (lastErr.length > 3) lastErr.shift();
          }
        } else {
          log.info(`${tag}: ${line}`);
        }
      });
      rl.on('error', () => undefined);
    };
    follow(sub.stdout, false);
    follow(sub.stderr, true);

    let timedOut = false;
    let grace: NodeJS.Timeout | undefined;
    const timer = setTimeout(() => {
      timedOut = true;
      log.error(`${tag}: still running after ${timeoutMs} ms; killing it (SIGTERM, SIGKILL in ${this.killGraceMs} ms)`);
      killGroup(sub.pid, 'SIGTERM');
      grace = setTimeout(() => killGroup(sub.pid, 'SIGKILL'), this.killGraceMs);
      grace.unref();
    }, timeoutMs);

    // Done when the process exits, not when its pipes close (a backgrounded child may keep them).
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      sub.once('exit', (code, signal) => resolve({ code, signal }));
    });
    const finished = sub.then((r) => r);
    const first = await Promise.race([exited.then((e) => ({ exit: e })), finished.then((r) => ({ result: r }))]);
    clearTimeout(timer);
    if (grace && !timedOut) clearTimeout(grace);
    // Let the last lines through, then stop reading whatever a background child keeps open.
    await Promise.race([finished, new Promise((r) => setTimeout(r, this.drainMs))]);
    sub.stdout?.destroy();
    sub.stderr?.destroy();
    void finished.catch(() => undefined);

    const durationMs = elapsed();
    let code: number | null;
    let signal: NodeJS.Signals | null;
    let spawnError: string | undefined;
    if ('exit' in first) {
      ({ code, signal } = first.exit);
    } else {
      const r = first.result;
      code = r.exitCode ?? null;
      signal = (r.signal as NodeJS.Signals | undefined) ?? null;
      if (r.failed && code === null && signal === null) spawnError = r.originalMessage || r.shortMessage;
    }
    const stderrTail = lastErr.length > 0 ? `: ${lastErr[lastErr.length - 1]}` : '';
    if (!timedOut && code === 0) {
      log.verbose(`${tag}: ok in ${durationMs} ms`);
      return { status: 'ok', hook, command, durationMs };
    }
    let reason: string;
    if (timedOut) reason = `timed out after ${timeoutMs} ms (killed with ${signal ?? 'SIGTERM'})`;
    else if (spawnError) reason = `could not be started: ${spawnError}`;
    else if (signal) reason = `was killed by ${signal}${stderrTail}`;
    else reason = `exited with code ${code}${stderrTail}`;
    const res: HookResult = { status: 'failed', hook, command, durationMs, reason: `${command} ${reason}`, timedOut };
    if (code !== null) res.exitCode = code;
    if (signal) res.signal = signal;
    log.error(`${tag}: ${res.reason}`);
    return res;
  }
}
