// src/ha/hooks.ts and src/ha/actions.ts: real hook scripts (sh, in a temp dir) run with the
// transition in their environment, output logged line by line, failures and timeouts reported with
// exit code / signal, the process group killed on timeout; then the machine driving real hooks
// through createHaActions (abort vs continue).
import { strict as assert } from 'node:assert';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HookRunner, hookEnv, splitHookCommand, type HookContext } from '../../../src/ha/hooks.js';
import { createHaActions, type HaOperations } from '../../../src/ha/actions.js';
import { FailoverMachine } from '../../../src/ha/machine.js';
import type { HooksConfig } from '../../../src/ha/config.js';
import { RecLog } from '../../helpers/fakes.js';
import { pidAlive } from '../../helpers/netns.js';

const ctx = (over: Partial<HookContext> = {}): HookContext => ({
  transition: 'promote',
  phase: 'pre',
  from: 'backup',
  to: 'active',
  reason: { source: 'fifo', detail: 'GROUP "G1" MASTER 0' },
  ...over,
});

describe('ha hooks: running hook scripts', function () {
  this.timeout(20_000);
  let dir: string;
  const script = (name: string, body: string): string => {
    const p = join(dir, name);
    writeFileSync(p, `#!/bin/sh\n${body}\n`);
    chmodSync(p, 0o755);
    return p;
  };
  const runner = (hooks: Partial<HooksConfig>, log = new RecLog(), extra: { killGraceMs?: number } = {}) =>
    new HookRunner({ hooks: { timeoutMs: 5000, ...hooks }, log, node: 'gw-a', ...extra });

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'ctsync-ha-hooks-'));
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('splits commands like a shell, without running one', async () => {
    assert.deepEqual(await splitHookCommand('/etc/ctsync/hook  a b'), ['/etc/ctsync/hook', 'a', 'b']);
    assert.deepEqual(await splitHookCommand('/etc/ctsync/hook a\\ b'), ['/etc/ctsync/hook', 'a b']);
    assert.deepEqual(await splitHookCommand(['/x', 'a b', '$HOME']), ['/x', 'a b', '$HOME']);
    await assert.rejects(() => splitHookCommand('  '), /empty hook command/);
  });

  it('builds the environment of a transition', () => {
    assert.deepEqual(
      hookEnv(
        ctx({
          transition: 'fault',
          phase: 'post',
          from: 'active',
          to: 'fault',
          reason: { source: 'notify', detail: 'INSTANCE "VI_1" FAULT 0' },
        }),
        'gw-a',
      ),
      {
        CTSYNC_TRANSITION: 'fault',
        CTSYNC_PHASE: 'post',
        CTSYNC_FROM: 'active',
        CTSYNC_TO: 'fault',
        CTSYNC_REASON: 'INSTANCE "VI_1" FAULT 0',
        CTSYNC_REASON_SOURCE: 'notify',
        CTSYNC_HOOK: 'postDemote',
        CTSYNC_NODE: 'gw-a',
      },
    );
  });

  it('skips a transition without a hook', async () => {
    assert.deepEqual(await runner({}).run(ctx()), { status: 'skipped', hook: 'prePromote' });
  });

  it('runs the hook with the transition in its environment and logs its output lines', async () => {
    const out = join(dir, 'env.out');
    const hook = script(
      'env.sh',
      `env | grep '^CTSYNC_' | grep -v '^CTSYNC_REQUIRE_NETNS=' | sort > '${out}'\necho "line one"\necho "line two"\necho "careful" >&2`,
    );
    const log = new RecLog();
    const r = await runner({ prePromote: `${hook} --flag`, timeoutMs: 5000 }, log).run(ctx());
    assert.equal(r.status, 'ok');
    assert.equal(r.status === 'ok' && r.command, `${hook} --flag`);
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), [
      'CTSYNC_FROM=backup',
      'CTSYNC_HOOK=prePromote',
      'CTSYNC_NODE=gw-a',
      'CTSYNC_PHASE=pre',
      'CTSYNC_REASON=GROUP "G1" MASTER 0',
      'CTSYNC_REASON_SOURCE=fifo',
      'CTSYNC_TO=active',
      'CTSYNC_TRANSITION=promote',
    ]);
    assert.ok(log.lines.includes('info ha: hook prePromote (promote): line one'));
    assert.ok(log.lines.includes('info ha: hook prePromote (promote): line two'));
    assert.ok(log.lines.includes('warn ha: hook prePromote (promote) stderr: careful'));
  });

  it('passes arguments and keeps the daemon environment (PATH)', async () => {
    const out = join(dir, 'args.out');
    const hook = script('args.sh', `printf '%s|' "$@" > '${out}'; command -v sh >> '${out}'`);
    const r = await runner({ postDemote: [hook, 'a b', 'c'] }).run(
      ctx({ transition: 'demote', phase: 'post', to: 'backup' }),
    );
    assert.equal(r.status, 'ok');
    assert.match(readFileSync(out, 'utf8'), /^a b\|c\|\/.*sh\n$/);
  });

  it('the fault transition runs the demote hooks with CTSYNC_TRANSITION=fault', async () => {
    const out = join(dir, 'fault.out');
    const hook = script('fault.sh', `echo "$CTSYNC_TRANSITION $CTSYNC_HOOK" > '${out}'`);
    const r = await runner({ preDemote: hook }).run(ctx({ transition: 'fault', to: 'fault' }));
    assert.equal(r.status, 'ok');
    assert.equal(readFileSync(out, 'utf8'), 'fault preDemote\n');
  });

  it('reports a non-zero exit with its code and the last stderr line', async () => {
    const hook = script('fail.sh', 'echo "checking uplink" >&2\necho "uplink eth0 is down" >&2\nexit 3');
    const log = new RecLog();
    const r = await runner({ prePromote: hook }, log).run(ctx());
    assert.equal(r.status, 'failed');
    if (r.status !== 'failed') return;
    assert.equal(r.reason, `${hook} exited with code 3: uplink eth0 is down`);
    assert.equal(r.exitCode, 3);
    assert.equal(r.timedOut, false);
    assert.ok(
      log.lines.includes(`error ha: hook prePromote (promote): ${hook} exited with code 3: uplink eth0 is down`),
    );
  });

  it('reports a hook that cannot be started', async () => {
    const r = await runner({ prePromote: join(dir, 'missing.sh') }).run(ctx());
    assert.equal(r.status, 'failed');
    assert.match(r.status === 'failed' ? r.reason : '', /missing\.sh could not be started: .*ENOENT/);
  });

  it('reports a hook killed by a signal', async () => {
    const hook = script('selfkill.sh', 'kill -USR1 $$');
    const r = await runner({ prePromote: hook }).run(ctx());
    assert.equal(r.status === 'failed' && r.reason, `${hook} was killed by SIGUSR1`);
  });

  it('kills a hook that runs too long, with its children, and says so', async () => {
    const pidFile = join(dir, 'child.pid');
    const hook = script('slow.sh', `sleep 30 &\necho $! > '${pidFile}'\nsleep 30`);
    const t0 = Date.now();
    const log = new RecLog();
    const r = await runner({ prePromote: hook, timeoutMs: 300 }, log).run(ctx());
    const took = Date.now() - t0;
    assert.equal(r.status, 'failed');
    if (r.status !== 'failed') return;
    assert.equal(r.timedOut, true);
    assert.equal(r.reason, `${hook} timed out after 300 ms (killed with SIGTERM)`);
    assert.ok(took >= 300 && took < 2500, `took ${took} ms`);
    assert.ok(
      log.lines.includes(
        'error ha: hook prePromote (promote): still running after 300 ms; killing it (SIGTERM, SIGKILL in 2000 ms)',
      ),
    );
    const child = Number(readFileSync(pidFile, 'utf8'));
    for (let i = 0; i < 20 && pidAlive(child); i++) await new Promise((res) => setTimeout(res, 50));
    assert.equal(pidAlive(child), false, 'the background child was killed with the group');
  });

  it('SIGKILLs a hook that ignores SIGTERM after the grace period', async () => {
    const hook = script('stubborn.sh', "trap '' TERM\nwhile :; do sleep 0.05; done");
    const t0 = Date.now();
    const r = await runner({ prePromote: hook, timeoutMs: 200 }, new RecLog(), { killGraceMs: 300 }).run(ctx());
    const took = Date.now() - t0;
    assert.equal(r.status === 'failed' && r.reason, `${hook} timed out after 200 ms (killed with SIGKILL)`);
    assert.ok(took >= 500 && took < 3000, `took ${took} ms`);
  });

  it('is done when the hook exits, even if a background child keeps its output open', async () => {
    const pidFile = join(dir, 'bg.pid');
    const hook = script('bg.sh', `sleep 3 &\necho $! > '${pidFile}'\necho started`);
    const t0 = Date.now();
    const r = await runner({ postPromote: hook, timeoutMs: 2000 }).run(ctx({ phase: 'post' }));
    assert.equal(r.status, 'ok');
    assert.ok(Date.now() - t0 < 1500, 'did not wait for the background child');
    const child = Number(readFileSync(pidFile, 'utf8'));
    try {
      process.kill(child, 'SIGKILL');
    } catch {
      /* gone */
    }
  });

  describe('driven by the machine (createHaActions)', () => {
    const ops = (calls: string[]): HaOperations => ({
      commit: async () => {
        calls.push('commit');
        return { committed: 3, replaced: 1, failed: [], seconds: 0.01 };
      },
      flushCaches: () => {
        calls.push('flush');
        return { internal: 2, external: 3 };
      },
      reloadInternal: async () => {
        calls.push('reload');
        return 4;
      },
      bulkSend: () => {
        calls.push('bulk');
        return 4;
      },
      requestResync: () => {
        calls.push('resync');
      },
      schedulePurge: () => {
        calls.push('purge');
        return 60;
      },
    });

    it('a failing pre-promote hook aborts the promotion with onPreHookFailure=abort', async () => {
      const calls: string[] = [];
      const hook = script('gate.sh', 'echo "peer still reachable, refusing" >&2; exit 1');
      const log = new RecLog();
      const hooks = runner({ prePromote: hook, onPreHookFailure: 'abort' }, log);
      const m = new FailoverMachine({
        actions: createHaActions({ ops: ops(calls), hooks }),
        log,
        onPreHookFailure: 'abort',
      });
      await m.request('backup', { source: 'startup', detail: 'ha.initialRole' });
      const o = await m.request('active', { source: 'fifo', detail: 'GROUP "G1" MASTER 0' });
      assert.equal(o.outcome === 'completed' && o.transition.result, 'aborted');
      assert.equal(
        o.outcome === 'completed' && o.transition.error,
        `pre-promote hook failed: ${hook} exited with code 1: peer still reachable, refusing`,
      );
      assert.deepEqual(calls, ['resync', 'purge'], 'nothing committed');
      assert.equal(m.currentRole, 'backup');
    });

    it('with continue the promotion goes on and the step details come from the operations', async () => {
      const calls: string[] = [];
      const marker = join(dir, 'post.ran');
      const pre = script('pre-fail.sh', 'exit 2');
      const post = script('post.sh', `echo "$CTSYNC_FROM>$CTSYNC_TO" > '${marker}'`);
      const log = new RecLog();
      const m = new FailoverMachine({
        actions: createHaActions({ ops: ops(calls), hooks: runner({ prePromote: pre, postPromote: post }, log) }),
        log,
      });
      const o = await m.request('active', { source: 'manual', detail: 'ctsync promote' });
      assert.equal(o.outcome, 'completed');
      if (o.outcome !== 'completed') return;
      assert.equal(o.transition.result, 'degraded');
      assert.deepEqual(calls, ['commit', 'flush', 'reload', 'bulk']);
      assert.deepEqual(
        o.transition.steps.map((s) => [s.name, s.result, s.detail]),
        [
          ['guardOn', 'skipped', 'no guard'],
          ['preHook', 'failed', `${pre} exited with code 2`],
          ['commitExternal', 'ok', 'committed 3 entries (1 replaced) in 0.010 s'],
          ['guardOff', 'skipped', 'the guard was not on'],
          ['flushCaches', 'ok', 'flushed 2 internal, 3 external entries'],
          ['resyncInternalFromKernel', 'ok', 'internal cache reloaded: 4 kernel entries'],
          ['bulkSend', 'ok', '4 entries queued to the peers'],
          ['postHook', 'ok', o.transition.steps[7]!.detail],
        ],
      );
      assert.match(o.transition.steps[7]!.detail!, /^postPromote ok in \d+ ms$/);
      assert.equal(readFileSync(marker, 'utf8'), 'starting>active\n');
    });

    it('commit failures reported by the operations degrade the promotion', async () => {
      const calls: string[] = [];
      const o2 = ops(calls);
      o2.commit = async () => ({ committed: 5, replaced: 0, failed: [{}, {}], seconds: 0.002 });
      const m = new FailoverMachine({ actions: createHaActions({ ops: o2 }), log: new RecLog() });
      const o = await m.request('active', { source: 'manual', detail: 'x' });
      assert.equal(
        o.outcome === 'completed' && o.transition.error,
        'commitExternal warning: 2 entries could not be committed (committed 5 entries (0 replaced) in 0.002 s)',
      );
      assert.equal(m.currentRole, 'active');
    });
  });
});
