// src/ha/machine.ts: the failover state machine on a fake clock, with scripted actions: every
// transition of the table, the race rules (queue, supersede, join, preempt), the failure rules
// (pre-hook abort/continue, failed or hanging commit, failing guard), the status shape, and a
// property test that steps never interleave and the last request wins.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  FailoverMachine,
  type Clock,
  type HaActions,
  type HookReport,
  type MachineOptions,
  type Reason,
  type RequestOutcome,
  type StepName,
  type StepReport,
  type Target,
  type TransitionContext,
  type TransitionRecord,
} from '../../../src/ha/machine.js';
import type { HaLog } from '../../../src/ha/log.js';
import type { Logger } from '../../../src/log.js';
import { ManualClock } from '../../helpers/fakes.js';

// ------------------------------------------------------------------------------------ fakes

/** The shared manual clock, letting promises settle after each timer it fires. */
class FakeClock extends ManualClock implements Clock {
  override async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    while (this.fireNext(end)) await settle();
    this.t = end;
    await settle();
  }
}

class RecLog implements HaLog {
  lines: Array<{ level: string; msg: string }> = [];
  error(m: string) {
    this.lines.push({ level: 'error', msg: m });
  }
  warn(m: string) {
    this.lines.push({ level: 'warn', msg: m });
  }
  info(m: string) {
    this.lines.push({ level: 'info', msg: m });
  }
  verbose(m: string) {
    this.lines.push({ level: 'verbose', msg: m });
  }
  debug(m: string) {
    this.lines.push({ level: 'debug', msg: m });
  }
  at(level: string): string[] {
    return this.lines.filter((l) => l.level === level).map((l) => l.msg);
  }
}

/** Lets every pending promise callback run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
  await new Promise((r) => setImmediate(r));
}

interface Gate {
  /** Resolves when the gated step has been called. */
  reached: Promise<void>;
  release(v?: StepReport | HookReport): void;
  fail(err: Error): void;
}

type Behaviour = (ctx: TransitionContext) => Promise<StepReport | HookReport | void>;

/**
 * Actions that record every call as `kind:step` (hooks as `kind:preHook`), take `cost` ms of fake
 * time each, and can be gated (wait until released) or given a behaviour.
 */
class FakeActions {
  calls: string[] = [];
  active = 0;
  maxActive = 0;
  private gates = new Map<StepName, Array<{ onReached: () => void; wait: Promise<StepReport | HookReport | void> }>>();
  behaviours = new Map<StepName, Behaviour>();
  contexts: TransitionContext[] = [];

  constructor(
    private readonly clock: FakeClock,
    private readonly cost = 10,
    readonly withGuard = true,
  ) {}

  gate(step: StepName): Gate {
    let onReached!: () => void;
    const reached = new Promise<void>((r) => (onReached = r));
    let release!: (v?: StepReport | HookReport) => void;
    let fail!: (e: Error) => void;
    const wait = new Promise<StepReport | HookReport | void>((res, rej) => {
      release = res;
      fail = rej;
    });
    const list = this.gates.get(step) ?? [];
    list.push({ onReached, wait });
    this.gates.set(step, list);
    return { reached, release, fail };
  }

  private async call(step: StepName, ctx: TransitionContext): Promise<StepReport | HookReport | void> {
    this.calls.push(`${ctx.kind}:${step}`);
    this.contexts.push(ctx);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      this.clock.t += this.cost;
      const g = this.gates.get(step)?.shift();
      if (g) {
        g.onReached();
        return await g.wait;
      }
      const b = this.behaviours.get(step);
      if (b) return await b(ctx);
      return step === 'preHook' || step === 'postHook' ? { status: 'ok' } : undefined;
    } finally {
      this.active--;
    }
  }

  actions(): HaActions {
    const a: HaActions = {
      runHook: (phase, ctx) => this.call(phase === 'pre' ? 'preHook' : 'postHook', ctx) as Promise<HookReport>,
      commitExternal: (ctx) => this.call('commitExternal', ctx) as Promise<StepReport | void>,
      flushCaches: (ctx) => this.call('flushCaches', ctx) as Promise<StepReport | void>,
      resyncInternalFromKernel: (ctx) => this.call('resyncInternalFromKernel', ctx) as Promise<StepReport | void>,
      bulkSend: (ctx) => this.call('bulkSend', ctx) as Promise<StepReport | void>,
      requestResync: (ctx) => this.call('requestResync', ctx) as Promise<StepReport | void>,
      schedulePurge: (ctx) => this.call('schedulePurge', ctx) as Promise<StepReport | void>,
    };
    if (this.withGuard) {
      a.guardOn = (ctx) => this.call('guardOn', ctx) as Promise<StepReport | void>;
      a.guardOff = (ctx) => this.call('guardOff', ctx) as Promise<StepReport | void>;
    }
    return a;
  }

  count(entry: string): number {
    return this.calls.filter((c) => c === entry).length;
  }
}

function setup(opts: Partial<MachineOptions> & { cost?: number; guard?: boolean } = {}) {
  const clock = new FakeClock();
  const log = new RecLog();
  const fake = new FakeActions(clock, opts.cost ?? 10, opts.guard ?? true);
  const m = new FailoverMachine({ actions: fake.actions(), log, clock, ...opts });
  return { clock, log, fake, m };
}

const fifo = (detail: string): Reason => ({ source: 'fifo', detail });
const MASTER = fifo('INSTANCE "VI_1" MASTER 100');
const BACKUP = fifo('INSTANCE "VI_1" BACKUP 100');
const FAULT = fifo('INSTANCE "VI_1" FAULT 0');

const PROMOTE = [
  'guardOn',
  'preHook',
  'commitExternal',
  'guardOff',
  'flushCaches',
  'resyncInternalFromKernel',
  'bulkSend',
  'postHook',
].map((s) => `promote:${s}`);
const DEMOTE = ['preHook', 'requestResync', 'schedulePurge', 'postHook'].map((s) => `demote:${s}`);
const FAULTS = ['preHook', 'schedulePurge', 'postHook'].map((s) => `fault:${s}`);

function completed(o: RequestOutcome): TransitionRecord {
  assert.equal(o.outcome, 'completed', `expected a completed outcome, got ${JSON.stringify(o)}`);
  return (o as { transition: TransitionRecord }).transition;
}

// ------------------------------------------------------------------------------------ tests

describe('ha machine: transitions', () => {
  it('starts in role starting with nothing running', () => {
    const { m, clock } = setup();
    const s = m.status();
    assert.equal(s.role, 'starting');
    assert.equal(s.since, clock.t);
    assert.deepEqual(s.history, []);
    assert.equal(s.current, undefined);
    assert.equal(s.pending, undefined);
    assert.equal(s.last, undefined);
  });

  it('starting → active runs the promote steps in order (-c, -f, -R, -B between guard and hooks)', async () => {
    const { m, fake, clock } = setup();
    const t0 = clock.t;
    const p = m.request('active', MASTER);
    assert.equal(m.currentRole, 'promoting', 'the role changes synchronously');
    const rec = completed(await p);
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
    assert.deepEqual(
      {
        kind: rec.kind,
        from: rec.from,
        to: rec.to,
        result: rec.result,
        startedAt: rec.startedAt,
        durationMs: rec.durationMs,
        force: rec.force,
      },
      { kind: 'promote', from: 'starting', to: 'active', result: 'ok', startedAt: t0, durationMs: 80, force: false },
    );
    assert.deepEqual(rec.reason, MASTER);
    assert.deepEqual(
      rec.steps.map((s) => [s.name, s.result, s.durationMs]),
      PROMOTE.map((s) => [s.split(':')[1], 'ok', 10]),
    );
    const st = m.status();
    assert.equal(st.since, t0 + 80);
    assert.deepEqual(st.last, rec);
    assert.deepEqual(st.history, [rec]);
    assert.equal(st.counters.transitions, 1);
  });

  it('every action sees the transition context', async () => {
    const { m, fake, clock } = setup();
    const t0 = clock.t;
    await m.request('active', MASTER);
    for (const ctx of fake.contexts)
      assert.deepEqual(ctx, {
        id: 1,
        kind: 'promote',
        from: 'starting',
        target: 'active',
        reason: MASTER,
        force: false,
        startedAt: t0,
      });
  });

  it('starting → backup runs the demote steps (-n, -t with hooks)', async () => {
    const { m, fake } = setup();
    const rec = completed(await m.request('backup', { source: 'startup', detail: 'ha.initialRole' }));
    assert.deepEqual(fake.calls, DEMOTE);
    assert.equal(m.currentRole, 'backup');
    assert.equal(rec.kind, 'demote');
    assert.equal(rec.from, 'starting');
  });

  it('backup → active → backup → fault → active → fault → backup → stopped', async () => {
    const { m, fake } = setup();
    await m.request('backup', BACKUP);
    const seen: Array<[string, string, string]> = [];
    for (const t of ['active', 'backup', 'fault', 'active', 'fault', 'backup', 'stopped'] as Target[]) {
      fake.calls = [];
      const rec = completed(await m.request(t, fifo(t)));
      seen.push([rec.from, rec.kind, rec.to]);
      assert.deepEqual(fake.calls, { promote: PROMOTE, demote: DEMOTE, fault: FAULTS, stop: [] }[rec.kind]);
      assert.equal(m.currentRole, rec.to);
    }
    assert.deepEqual(seen, [
      ['backup', 'promote', 'active'],
      ['active', 'demote', 'backup'],
      ['backup', 'fault', 'fault'],
      ['fault', 'promote', 'active'],
      ['active', 'fault', 'fault'],
      ['fault', 'demote', 'backup'],
      ['backup', 'stop', 'stopped'],
    ]);
  });

  it('the role is promoting/demoting during the transition, fault at once for a fault', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    const p = m.request('active', MASTER);
    await g.reached;
    assert.equal(m.currentRole, 'promoting');
    g.release();
    await p;
    const g2 = fake.gate('requestResync');
    const p2 = m.request('backup', BACKUP);
    await g2.reached;
    assert.equal(m.currentRole, 'demoting');
    g2.release();
    await p2;
    const g3 = fake.gate('schedulePurge');
    const p3 = m.request('fault', FAULT);
    await g3.reached;
    assert.equal(m.currentRole, 'fault');
    g3.release();
    await p3;
  });

  it('without a guard the guard steps are recorded as skipped', async () => {
    const { m, fake } = setup({ guard: false });
    const rec = completed(await m.request('active', MASTER));
    assert.deepEqual(
      fake.calls,
      PROMOTE.filter((c) => !c.includes('guard')),
    );
    assert.deepEqual(
      rec.steps.filter((s) => s.name.startsWith('guard')).map((s) => [s.name, s.result]),
      [
        ['guardOn', 'skipped'],
        ['guardOff', 'skipped'],
      ],
    );
    assert.equal(rec.result, 'ok');
  });

  it('hooks reporting skipped (none configured) are recorded as skipped, the transition is ok', async () => {
    const { m, fake } = setup();
    fake.behaviours.set('preHook', async () => ({ status: 'skipped', detail: 'no prePromote hook' }));
    const rec = completed(await m.request('active', MASTER));
    assert.deepEqual(
      rec.steps.find((s) => s.name === 'preHook'),
      {
        name: 'preHook',
        result: 'skipped',
        startedAt: rec.startedAt + 10,
        durationMs: 10,
        detail: 'no prePromote hook',
      },
    );
    assert.equal(rec.result, 'ok');
  });

  it('stop: no steps; later requests are refused', async () => {
    const { m, fake, log } = setup();
    await m.request('active', MASTER);
    fake.calls = [];
    const rec = completed(await m.request('stopped', { source: 'manual', detail: 'daemon shutdown' }));
    assert.deepEqual(fake.calls, []);
    assert.equal(rec.kind, 'stop');
    assert.equal(m.currentRole, 'stopped');
    const o = await m.request('active', MASTER);
    assert.deepEqual(o, { outcome: 'refused', why: 'the daemon has stopped' });
    assert.ok(
      log.at('warn').includes('ha: request active (fifo: INSTANCE "VI_1" MASTER 100) refused: the daemon has stopped'),
    );
    assert.equal(m.status().counters.refused, 1);
  });

  it('logs each transition with its reason and duration', async () => {
    const { m, log } = setup();
    await m.request('active', MASTER);
    assert.ok(log.at('info').includes('ha: promote starting → active started (fifo: INSTANCE "VI_1" MASTER 100)'));
    assert.ok(
      log.at('info').includes('ha: promote starting → active done in 80 ms (fifo: INSTANCE "VI_1" MASTER 100)'),
    );
    assert.ok(log.at('verbose').includes('ha: promote step commitExternal ok in 10 ms'));
  });

  it('keeps the last historySize transitions, newest last', async () => {
    const { m } = setup({ historySize: 3 });
    for (const t of ['active', 'backup', 'active', 'backup', 'fault'] as Target[]) await m.request(t, fifo(t));
    const h = m.status().history;
    assert.deepEqual(
      h.map((r) => [r.id, r.kind]),
      [
        [3, 'promote'],
        [4, 'demote'],
        [5, 'fault'],
      ],
    );
    assert.equal(m.status().counters.transitions, 5);
  });

  it('calls onTransition with every record; a throwing listener is logged, not fatal', async () => {
    const got: number[] = [];
    const { m, log } = setup({
      onTransition: (r) => {
        got.push(r.id);
        throw new Error('listener broke');
      },
    });
    await m.request('active', MASTER);
    await m.request('backup', BACKUP);
    assert.deepEqual(got, [1, 2]);
    assert.ok(log.at('error').includes('ha: onTransition listener failed: listener broke'));
    assert.equal(m.currentRole, 'backup');
  });
});

describe('ha machine: idempotence and races', () => {
  it('MASTER twice in a row commits once (the second is a no-op)', async () => {
    const { m, fake } = setup();
    await m.request('active', MASTER);
    const o = await m.request('active', fifo('INSTANCE "VI_1" MASTER 100 (again)'));
    assert.deepEqual(o, { outcome: 'noop', role: 'active' });
    assert.equal(fake.count('promote:commitExternal'), 1);
    assert.equal(m.status().counters.noops, 1);
    assert.equal(m.status().history.length, 1);
  });

  it('MASTER twice during the promotion: joins it, both settle with the same record, one commit', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    const p1 = m.request('active', MASTER);
    await g.reached;
    const p2 = m.request('active', { source: 'notify', detail: 'INSTANCE VI_1 MASTER 100' });
    g.release();
    const [o1, o2] = await Promise.all([p1, p2]);
    assert.equal(completed(o1), completed(o2));
    await m.idle();
    assert.equal(fake.count('promote:commitExternal'), 1);
    assert.equal(m.status().counters.collapsed, 1);
  });

  it('force re-runs the transition for the role already held (manual re-commit)', async () => {
    const { m, fake } = setup();
    await m.request('active', MASTER);
    const rec = completed(
      await m.request('active', { source: 'manual', detail: 'ctsync promote --force' }, { force: true }),
    );
    assert.equal(rec.kind, 'promote');
    assert.equal(rec.from, 'active');
    assert.equal(rec.force, true);
    assert.equal(fake.count('promote:commitExternal'), 2);
  });

  it('BACKUP arriving mid-promotion: the promotion finishes, then one demotion', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    const p1 = m.request('active', MASTER);
    await g.reached;
    const p2 = m.request('backup', BACKUP);
    assert.deepEqual(m.status().pending, {
      target: 'backup',
      reason: BACKUP,
      force: false,
      requestedAt: m.status().pending!.requestedAt,
      preempts: false,
    });
    g.release();
    const r1 = completed(await p1);
    const r2 = completed(await p2);
    assert.equal(r1.result, 'ok');
    assert.deepEqual(fake.calls, [...PROMOTE, ...DEMOTE], 'the promotion ran to its end before the demotion');
    assert.deepEqual([r2.kind, r2.from, r2.to], ['demote', 'active', 'backup']);
    assert.equal(m.currentRole, 'backup');
  });

  it('MASTER then BACKUP during a promotion (notify scripts racing): promote, then demote once', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    void m.request('active', MASTER);
    await g.reached;
    void m.request('active', MASTER);
    void m.request('backup', BACKUP);
    void m.request('backup', fifo('GROUP "G1" BACKUP 0'));
    g.release();
    await m.idle();
    assert.deepEqual(fake.calls, [...PROMOTE, ...DEMOTE]);
    assert.deepEqual(
      m.status().history.map((r) => r.kind),
      ['promote', 'demote'],
    );
    assert.equal(m.status().counters.collapsed, 2);
  });

  it('MASTER, BACKUP, MASTER during a promotion: latest wins, BACKUP is superseded, no demotion', async () => {
    const { m, fake, log } = setup();
    const g = fake.gate('commitExternal');
    void m.request('active', MASTER);
    await g.reached;
    const pb = m.request('backup', BACKUP);
    const pm = m.request('active', fifo('INSTANCE "VI_1" MASTER 100 #2'));
    assert.deepEqual(await pb, {
      outcome: 'superseded',
      by: { target: 'active', reason: fifo('INSTANCE "VI_1" MASTER 100 #2') },
    });
    g.release();
    assert.equal(completed(await pm).kind, 'promote');
    await m.idle();
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
    assert.equal(m.status().counters.superseded, 1);
    assert.ok(
      log
        .at('info')
        .some((l) =>
          l.startsWith('ha: pending request backup (fifo: INSTANCE "VI_1" BACKUP 100) superseded by active'),
        ),
    );
  });

  it('BACKUP then FAULT queued behind a demotion: only the fault runs next', async () => {
    const { m, fake } = setup();
    await m.request('active', MASTER);
    fake.calls = [];
    const g = fake.gate('requestResync');
    void m.request('backup', BACKUP);
    await g.reached;
    const pa = m.request('active', MASTER);
    void m.request('fault', FAULT);
    assert.equal((await pa).outcome, 'superseded');
    g.release();
    await m.idle();
    // fault preempted the rest of the demotion (schedulePurge, postHook)
    assert.deepEqual(fake.calls, ['demote:preHook', 'demote:requestResync', ...FAULTS]);
    assert.deepEqual(
      m
        .status()
        .history.slice(1)
        .map((r) => [r.kind, r.result]),
      [
        ['demote', 'preempted'],
        ['fault', 'ok'],
      ],
    );
  });

  it('FAULT during the commit: the commit finishes, the guard is released, the rest is skipped, then fault', async () => {
    const { m, fake, log } = setup();
    await m.request('backup', BACKUP);
    fake.calls = [];
    const g = fake.gate('commitExternal');
    const pm = m.request('active', MASTER);
    await g.reached;
    const pf = m.request('fault', FAULT);
    const st = m.status();
    assert.equal(st.current?.step, 'commitExternal');
    assert.equal(st.pending?.preempts, true);
    g.release({ detail: 'committed 10 entries' });
    const rp = completed(await pm);
    const rf = completed(await pf);
    assert.deepEqual(fake.calls, [
      'promote:guardOn',
      'promote:preHook',
      'promote:commitExternal',
      'promote:guardOff',
      ...FAULTS,
    ]);
    assert.equal(rp.result, 'preempted');
    assert.equal(rp.error, 'fault requested (fifo: INSTANCE "VI_1" FAULT 0) before flushCaches');
    assert.deepEqual(
      rp.steps.map((s) => [s.name, s.result]),
      [
        ['guardOn', 'ok'],
        ['preHook', 'ok'],
        ['commitExternal', 'ok'],
        ['guardOff', 'ok'],
        ['flushCaches', 'skipped'],
        ['resyncInternalFromKernel', 'skipped'],
        ['bulkSend', 'skipped'],
        ['postHook', 'skipped'],
      ],
    );
    assert.deepEqual([rf.kind, rf.from, rf.to, rf.result], ['fault', 'promoting', 'fault', 'ok']);
    assert.equal(m.currentRole, 'fault');
    assert.equal(m.status().counters.preempted, 1);
    assert.ok(
      log
        .at('info')
        .includes('ha: request fault (fifo: INSTANCE "VI_1" FAULT 0) preempts the running promote at its next step'),
    );
  });

  it('FAULT during the pre-hook: the guard still comes off, nothing is committed', async () => {
    const { m, fake } = setup();
    const g = fake.gate('preHook');
    void m.request('active', MASTER);
    await g.reached;
    void m.request('fault', FAULT);
    g.release({ status: 'ok' });
    await m.idle();
    assert.deepEqual(fake.calls, ['promote:guardOn', 'promote:preHook', 'promote:guardOff', ...FAULTS]);
    assert.equal(fake.count('promote:commitExternal'), 0);
  });

  it('FAULT then MASTER again before the step ends: the preemption is withdrawn, the promotion completes', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    const p = m.request('active', MASTER);
    await g.reached;
    const pf = m.request('fault', FAULT);
    void m.request('active', fifo('INSTANCE "VI_1" MASTER 100 #2'));
    assert.equal((await pf).outcome, 'superseded');
    g.release();
    assert.equal(completed(await p).result, 'ok');
    await m.idle();
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
  });

  it('STOP preempts a promotion too, and nothing but stop is accepted afterwards', async () => {
    const { m, fake } = setup();
    const g = fake.gate('commitExternal');
    void m.request('active', MASTER);
    await g.reached;
    const ps = m.request('stopped', { source: 'manual', detail: 'shutdown' });
    const pb = m.request('backup', BACKUP);
    assert.deepEqual(await pb, { outcome: 'refused', why: 'the daemon is stopping' });
    g.release();
    assert.equal(completed(await ps).kind, 'stop');
    assert.deepEqual(fake.calls, PROMOTE.slice(0, 4));
    assert.equal(m.currentRole, 'stopped');
  });

  it('FAULT twice collapses; FAULT while in fault is a no-op', async () => {
    const { m, fake } = setup();
    const g = fake.gate('schedulePurge');
    const p1 = m.request('fault', FAULT);
    await g.reached;
    const p2 = m.request('fault', FAULT);
    g.release();
    assert.equal(completed(await p1), completed(await p2));
    assert.deepEqual(await m.request('fault', FAULT), { outcome: 'noop', role: 'fault' });
    assert.equal(fake.count('fault:schedulePurge'), 1);
  });

  it('a request arriving just as a transition settles is not lost', async () => {
    const { m, fake } = setup();
    const p = m.request('active', MASTER);
    // Chained on the outcome: runs in the microtask right after the promotion settles.
    const chained = p.then(() => m.request('backup', BACKUP));
    assert.equal(completed(await chained).kind, 'demote');
    await m.idle();
    assert.equal(m.currentRole, 'backup');
    assert.deepEqual(fake.calls, [...PROMOTE, ...DEMOTE]);
  });

  it('status during a transition shows the step in flight and the pending request', async () => {
    const { m, fake, clock } = setup();
    const g = fake.gate('bulkSend');
    void m.request('active', MASTER);
    await g.reached;
    void m.request('backup', BACKUP);
    const s = m.status();
    assert.equal(s.role, 'promoting');
    assert.deepEqual(s.current, {
      id: 1,
      kind: 'promote',
      from: 'starting',
      to: 'active',
      reason: MASTER,
      startedAt: clock.t - 70,
      step: 'bulkSend',
      stepStartedAt: clock.t - 10,
    });
    assert.deepEqual(s.pending, {
      target: 'backup',
      reason: BACKUP,
      force: false,
      requestedAt: clock.t,
      preempts: false,
    });
    assert.deepEqual(s.wanted, { target: 'backup', reason: BACKUP, at: clock.t });
    g.release();
    await m.idle();
    const after = m.status();
    assert.equal(after.current, undefined);
    assert.equal(after.pending, undefined);
    assert.equal(after.role, 'backup');
    // the status is a snapshot: mutating it changes nothing
    after.history.pop();
    assert.equal(m.status().history.length, 2);
  });

  it('property: steps never interleave and, once idle, the role is the last accepted target', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.record({
            target: fc.constantFrom<Target>('active', 'backup', 'fault'),
            wait: fc.integer({ min: 0, max: 3 }),
          }),
          { minLength: 1, maxLength: 25 },
        ),
        async (reqs) => {
          const { m, fake } = setup();
          const outcomes: Array<Promise<RequestOutcome>> = [];
          for (const r of reqs) {
            outcomes.push(m.request(r.target, fifo(`${r.target}`)));
            for (let i = 0; i < r.wait; i++) await new Promise((res) => setImmediate(res));
          }
          await m.idle();
          await Promise.all(outcomes); // every request settles
          assert.equal(fake.maxActive, 1, 'two actions ran at once');
          assert.equal(m.currentRole, reqs[reqs.length - 1]!.target);
          // every transition completed or was preempted, and none was redundant (from = to means a
          // second commit / purge for a role already held)
          for (const rec of m.status().history) {
            assert.ok(rec.result === 'ok' || rec.result === 'preempted');
            assert.notEqual(rec.from, rec.to);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('ha machine: failures', () => {
  it('pre-hook failure with onPreHookFailure=abort: no commit, guard released, role unchanged, retried on the next request', async () => {
    const { m, fake, log } = setup({ onPreHookFailure: 'abort' });
    await m.request('backup', BACKUP);
    fake.calls = [];
    fake.behaviours.set('preHook', async () => ({
      status: 'failed',
      detail: '/etc/ctsync/pre-promote exited with code 3: link down',
    }));
    const rec = completed(await m.request('active', MASTER));
    assert.equal(rec.result, 'aborted');
    assert.equal(rec.error, 'pre-promote hook failed: /etc/ctsync/pre-promote exited with code 3: link down');
    assert.deepEqual(fake.calls, ['promote:guardOn', 'promote:preHook', 'promote:guardOff']);
    assert.equal(m.currentRole, 'backup');
    const s = m.status();
    assert.equal(s.wanted?.target, 'active');
    assert.equal(s.counters.aborted, 1);
    assert.ok(
      log
        .at('error')
        .some(
          (l) =>
            l.startsWith(
              'ha: promote backup → active ABORTED in 30 ms (fifo: INSTANCE "VI_1" MASTER 100): pre-promote hook failed',
            ) && l.endsWith('role stays backup'),
        ),
    );
    // keepalived says MASTER again (or `ctsync promote`): not a no-op, since the role is backup
    fake.behaviours.delete('preHook');
    fake.calls = [];
    const again = completed(await m.request('active', MASTER));
    assert.equal(again.result, 'ok');
    assert.deepEqual(fake.calls, PROMOTE);
  });

  it('pre-demote hook failure with abort keeps the node active', async () => {
    const { m, fake } = setup({ onPreHookFailure: 'abort' });
    await m.request('active', MASTER);
    fake.calls = [];
    fake.behaviours.set('preHook', async () => ({ status: 'failed', detail: 'timed out after 500 ms' }));
    const rec = completed(await m.request('backup', BACKUP));
    assert.equal(rec.result, 'aborted');
    assert.deepEqual(fake.calls, ['demote:preHook']);
    assert.equal(m.currentRole, 'active');
  });

  it('pre-hook failure with onPreHookFailure=continue: promotes anyway, degraded', async () => {
    const { m, fake, log } = setup({ onPreHookFailure: 'continue' });
    fake.behaviours.set('preHook', async () => ({
      status: 'failed',
      detail: 'hook timed out after 500 ms (killed with SIGTERM)',
    }));
    const rec = completed(await m.request('active', MASTER));
    assert.equal(rec.result, 'degraded');
    assert.equal(rec.error, 'preHook failed: hook timed out after 500 ms (killed with SIGTERM)');
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
    assert.ok(
      log
        .at('error')
        .includes('ha: promote step preHook failed in 10 ms: hook timed out after 500 ms (killed with SIGTERM)'),
    );
  });

  it('a pre-hook that throws counts as failed', async () => {
    const { m, fake } = setup({ onPreHookFailure: 'abort' });
    fake.behaviours.set('preHook', async () => {
      throw new Error('spawn EACCES');
    });
    const rec = completed(await m.request('active', MASTER));
    assert.equal(rec.result, 'aborted');
    assert.equal(rec.error, 'pre-promote hook failed: spawn EACCES');
  });

  it('a fault transition is never aborted by its pre-hook', async () => {
    const { m, fake } = setup({ onPreHookFailure: 'abort' });
    fake.behaviours.set('preHook', async () => ({ status: 'failed', detail: 'exit 1' }));
    const rec = completed(await m.request('fault', FAULT));
    assert.equal(rec.result, 'degraded');
    assert.deepEqual(fake.calls, FAULTS);
    assert.equal(m.currentRole, 'fault');
  });

  it('a failing commit still promotes (traffic must flow), loudly, and the later steps run', async () => {
    const { m, fake, log } = setup();
    fake.behaviours.set('commitExternal', async () => {
      throw new Error('commit already in progress');
    });
    const rec = completed(await m.request('active', MASTER));
    assert.equal(rec.result, 'degraded');
    assert.equal(rec.error, 'commitExternal failed: commit already in progress');
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
    assert.ok(log.at('error').includes('ha: promote step commitExternal failed in 10 ms: commit already in progress'));
    assert.ok(
      log
        .at('error')
        .includes(
          'ha: promote starting → active done with failures in 80 ms (fifo: INSTANCE "VI_1" MASTER 100): commitExternal failed: commit already in progress',
        ),
    );
    assert.equal(m.status().counters.degraded, 1);
  });

  it('a partly failed commit (warning) degrades the transition', async () => {
    const { m, fake, log } = setup();
    fake.behaviours.set('commitExternal', async () => ({
      detail: 'committed 990 entries (0 replaced) in 0.100 s',
      warning: '10 entries could not be committed',
    }));
    const rec = completed(await m.request('active', MASTER));
    assert.equal(rec.result, 'degraded');
    const step = rec.steps.find((s) => s.name === 'commitExternal')!;
    assert.deepEqual(
      [step.result, step.detail],
      ['warning', '10 entries could not be committed (committed 990 entries (0 replaced) in 0.100 s)'],
    );
    assert.ok(log.at('warn').some((l) => l.startsWith('ha: promote step commitExternal warning')));
  });

  it('a hanging commit fails after stepTimeoutMs; the promotion goes on and the guard comes off', async () => {
    const { m, fake, clock } = setup({ stepTimeoutMs: 5000 });
    fake.behaviours.set('commitExternal', () => new Promise(() => undefined));
    const p = m.request('active', MASTER);
    await settle();
    assert.equal(m.status().current?.step, 'commitExternal');
    const stepStarted = m.status().current!.stepStartedAt!;
    await clock.advance(stepStarted + 4999 - clock.t);
    assert.equal(m.status().current?.step, 'commitExternal', 'not before the timeout');
    await clock.advance(1);
    const rec = completed(await p);
    assert.equal(rec.result, 'degraded');
    const step = rec.steps.find((s) => s.name === 'commitExternal')!;
    assert.deepEqual(
      [step.result, step.detail, step.durationMs],
      ['failed', 'timed out after 5000 ms (still running in the background)', 5000],
    );
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(m.currentRole, 'active');
    assert.equal(clock.pendingTimers, 0, 'step timers are cleared');
  });

  it('an action that throws synchronously fails its step only', async () => {
    const clock = new FakeClock();
    const actions: HaActions = {
      runHook: async () => ({ status: 'skipped' }),
      commitExternal: async () => undefined,
      flushCaches: () => {
        throw new Error('cannot flush the external cache while a commit is running');
      },
      resyncInternalFromKernel: async () => undefined,
      bulkSend: async () => undefined,
      requestResync: async () => undefined,
      schedulePurge: async () => undefined,
    };
    const m2 = new FailoverMachine({ actions, log: new RecLog(), clock });
    const rec = completed(await m2.request('active', MASTER));
    assert.equal(rec.result, 'degraded');
    assert.equal(rec.error, 'flushCaches failed: cannot flush the external cache while a commit is running');
    assert.equal(m2.currentRole, 'active');
  });

  it('a failing guardOn does not stop the promotion, and guardOff still runs (it may be half installed)', async () => {
    const { m, fake } = setup();
    fake.behaviours.set('guardOn', async () => {
      throw new Error('guard: nft could not install table inet ctsync_guard: Operation not permitted');
    });
    const rec = completed(await m.request('active', MASTER));
    assert.deepEqual(fake.calls, PROMOTE);
    assert.equal(rec.result, 'degraded');
    assert.equal(m.currentRole, 'active');
  });

  it('a failing post-hook degrades but keeps the role', async () => {
    const { m, fake } = setup();
    await m.request('active', MASTER);
    fake.behaviours.set('postHook', async () => ({ status: 'failed', detail: 'exited with code 2' }));
    const rec = completed(await m.request('backup', BACKUP));
    assert.equal(rec.result, 'degraded');
    assert.equal(m.currentRole, 'backup');
  });

  it("winston's Logger fits the HaLog interface", () => {
    const check = (l: Logger): HaLog => l;
    assert.equal(typeof check, 'function');
  });
});
