// src/ha/keepalived.ts: notify arguments and FIFO lines exactly as keepalived 2.2.7 writes them
// (docs/conntrackd-compat.md §2), the exact messages for bad input, and the tracker that turns the events of the
// followed instances / sync groups into target roles, wired to a real FailoverMachine.
import { strict as assert } from 'node:assert';
import fc from 'fast-check';
import {
  KeepalivedInputError,
  KeepalivedTracker,
  applyKeepalivedEvent,
  eventText,
  fifoLineHandler,
  parseFifoLine,
  parseNotifyArgs,
  type KeepalivedEvent,
  type TrackDecision,
} from '../../../src/ha/keepalived.js';
import { recordingActions } from '../../helpers/fakes.js';
import { FailoverMachine, type Target } from '../../../src/ha/machine.js';

function errorOf(fn: () => unknown): KeepalivedInputError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof KeepalivedInputError, `expected a KeepalivedInputError, got ${String(e)}`);
    return e;
  }
  assert.fail('expected a KeepalivedInputError');
}

const ev = (
  type: 'INSTANCE' | 'GROUP',
  name: string,
  state: KeepalivedEvent['state'],
  priority?: number,
): KeepalivedEvent =>
  priority === undefined ? { type, name, state, source: 'fifo' } : { type, name, state, priority, source: 'fifo' };

describe('ha keepalived: notify script arguments', () => {
  it('parses TYPE NAME STATE PRIORITY as keepalived appends them', () => {
    assert.deepEqual(parseNotifyArgs(['INSTANCE', 'VI_1', 'MASTER', '100']), {
      type: 'INSTANCE',
      name: 'VI_1',
      state: 'MASTER',
      priority: 100,
      source: 'notify',
    });
    assert.deepEqual(parseNotifyArgs(['GROUP', 'G1', 'BACKUP', '0']), {
      type: 'GROUP',
      name: 'G1',
      state: 'BACKUP',
      priority: 0,
      source: 'notify',
    });
    for (const s of ['FAULT', 'STOP', 'DELETED'] as const)
      assert.equal(parseNotifyArgs(['INSTANCE', 'VI_1', s, '255']).state, s);
  });

  it('accepts a missing priority (typed by hand)', () => {
    assert.deepEqual(parseNotifyArgs(['GROUP', 'G1', 'FAULT']), {
      type: 'GROUP',
      name: 'G1',
      state: 'FAULT',
      source: 'notify',
    });
  });

  it('names the bad argument and what was expected', () => {
    const cases: Array<[string[], string, string]> = [
      [
        [],
        'keepalived notify: expected TYPE NAME STATE [PRIORITY] (the arguments keepalived appends to a notify script), got no arguments',
        'arguments',
      ],
      [
        ['INSTANCE', 'VI_1'],
        'keepalived notify: expected TYPE NAME STATE [PRIORITY] (the arguments keepalived appends to a notify script), got 2 arguments: "INSTANCE" "VI_1"',
        'arguments',
      ],
      [
        ['primary'],
        'keepalived notify: expected TYPE NAME STATE [PRIORITY] (the arguments keepalived appends to a notify script), got 1 argument: "primary"',
        'arguments',
      ],
      [
        ['INSTANCE', 'VI_1', 'MASTER', '100', 'x'],
        'keepalived notify: expected TYPE NAME STATE [PRIORITY] (the arguments keepalived appends to a notify script), got 5 arguments: "INSTANCE" "VI_1" "MASTER" "100" "x"',
        'arguments',
      ],
      [
        ['VRRP', 'VI_1', 'MASTER', '100'],
        'keepalived notify argument 1 (TYPE) must be INSTANCE or GROUP, got "VRRP"',
        'argument 1 (TYPE)',
      ],
      [
        ['instance', 'VI_1', 'MASTER', '100'],
        'keepalived notify argument 1 (TYPE) must be INSTANCE or GROUP, got "instance" (keepalived writes it in upper case)',
        'argument 1 (TYPE)',
      ],
      [
        ['INSTANCE', '', 'MASTER', '100'],
        'keepalived notify argument 2 (NAME) must be a vrrp_instance or vrrp_sync_group name (no spaces or quotes), got an empty string',
        'argument 2 (NAME)',
      ],
      [
        ['INSTANCE', 'VI 1', 'MASTER', '100'],
        'keepalived notify argument 2 (NAME) must be a vrrp_instance or vrrp_sync_group name (no spaces or quotes), got "VI 1"',
        'argument 2 (NAME)',
      ],
      [
        ['INSTANCE', 'VI_1', 'master', '100'],
        'keepalived notify argument 3 (STATE) must be MASTER, BACKUP, FAULT, STOP or DELETED, got "master" (keepalived writes it in upper case)',
        'argument 3 (STATE)',
      ],
      [
        ['INSTANCE', 'VI_1', 'MASTER_PRIORITY', '100'],
        'keepalived notify argument 3 (STATE) must be MASTER, BACKUP, FAULT, STOP or DELETED, got "MASTER_PRIORITY"',
        'argument 3 (STATE)',
      ],
      [
        ['INSTANCE', 'VI_1', 'MASTER', '256'],
        'keepalived notify argument 4 (PRIORITY) must be a priority from 0 to 255, got "256"',
        'argument 4 (PRIORITY)',
      ],
      [
        ['INSTANCE', 'VI_1', 'MASTER', '-1'],
        'keepalived notify argument 4 (PRIORITY) must be a priority from 0 to 255, got "-1"',
        'argument 4 (PRIORITY)',
      ],
      [
        ['INSTANCE', 'VI_1', 'MASTER', 'high'],
        'keepalived notify argument 4 (PRIORITY) must be a priority from 0 to 255, got "high"',
        'argument 4 (PRIORITY)',
      ],
    ];
    for (const [args, message, field] of cases) {
      const e = errorOf(() => parseNotifyArgs(args));
      assert.equal(e.message, message);
      assert.equal(e.field, field);
    }
  });

  it('error fields carry expected and got separately', () => {
    const e = errorOf(() => parseNotifyArgs(['GROUP', 'G1', 'UP', '0']));
    assert.equal(e.expected, 'MASTER, BACKUP, FAULT, STOP or DELETED');
    assert.equal(e.got, '"UP"');
  });
});

describe('ha keepalived: notify FIFO lines', () => {
  it('parses instance and group lines', () => {
    assert.deepEqual(parseFifoLine('INSTANCE "VI_1" MASTER 100'), {
      kind: 'vrrp',
      event: { type: 'INSTANCE', name: 'VI_1', state: 'MASTER', priority: 100, source: 'fifo' },
    });
    assert.deepEqual(parseFifoLine('GROUP "G1" BACKUP 0'), {
      kind: 'vrrp',
      event: { type: 'GROUP', name: 'G1', state: 'BACKUP', priority: 0, source: 'fifo' },
    });
  });

  it('parses the FIFO-only instance states', () => {
    for (const s of ['MASTER_RX_LOWER_PRI', 'MASTER_PRIORITY', 'BACKUP_PRIORITY'] as const) {
      assert.deepEqual(parseFifoLine(`INSTANCE "VI_1" ${s} 90`), {
        kind: 'vrrp',
        event: { type: 'INSTANCE', name: 'VI_1', state: s, priority: 90, source: 'fifo' },
      });
    }
  });

  it('tolerates a CR and a missing priority; empty lines are empty', () => {
    assert.deepEqual(parseFifoLine('GROUP "G1" FAULT 0\r'), {
      kind: 'vrrp',
      event: { type: 'GROUP', name: 'G1', state: 'FAULT', priority: 0, source: 'fifo' },
    });
    assert.deepEqual(parseFifoLine('INSTANCE "VI_1" STOP'), {
      kind: 'vrrp',
      event: { type: 'INSTANCE', name: 'VI_1', state: 'STOP', source: 'fifo' },
    });
    assert.deepEqual(parseFifoLine(''), { kind: 'empty' });
    assert.deepEqual(parseFifoLine('   '), { kind: 'empty' });
  });

  it('keeps names with unusual characters (quotes delimit them)', () => {
    const r = parseFifoLine('INSTANCE "vi-eth0.100_v6" BACKUP 50');
    assert.equal(r.kind === 'vrrp' && r.event.name, 'vi-eth0.100_v6');
  });

  it('passes over checker lines (VS/RS)', () => {
    assert.deepEqual(parseFifoLine('VS [192.0.2.10]:tcp:80 UP'), {
      kind: 'checker',
      line: 'VS [192.0.2.10]:tcp:80 UP',
    });
    assert.deepEqual(parseFifoLine('RS [198.51.100.5]:tcp:80 [192.0.2.10]:tcp:80 DOWN'), {
      kind: 'checker',
      line: 'RS [198.51.100.5]:tcp:80 [192.0.2.10]:tcp:80 DOWN',
    });
  });

  it('names the bad field with the line and what was expected', () => {
    const cases: Array<[string, string]> = [
      [
        'MASTER',
        'keepalived FIFO line "MASTER": TYPE must be INSTANCE or GROUP (or VS/RS for checker lines), got "MASTER"',
      ],
      [
        'instance "VI_1" MASTER 100',
        'keepalived FIFO line "instance \\"VI_1\\" MASTER 100": TYPE must be INSTANCE or GROUP (or VS/RS for checker lines), got "instance" (keepalived writes it in upper case)',
      ],
      [
        'INSTANCE VI_1 MASTER 100',
        'keepalived FIFO line "INSTANCE VI_1 MASTER 100": NAME must be a vrrp_instance or vrrp_sync_group name in double quotes, e.g. "VI_1", got "VI_1"',
      ],
      [
        'INSTANCE',
        'keepalived FIFO line "INSTANCE": NAME must be a vrrp_instance or vrrp_sync_group name in double quotes, e.g. "VI_1", got nothing',
      ],
      [
        'INSTANCE "VI_1"',
        'keepalived FIFO line "INSTANCE \\"VI_1\\"": STATE and PRIORITY must be "STATE PRIORITY" after the name, e.g. INSTANCE "VI_1" MASTER 100, got ""',
      ],
      [
        'GROUP "G1" MASTER 0 extra',
        'keepalived FIFO line "GROUP \\"G1\\" MASTER 0 extra": STATE and PRIORITY must be "STATE PRIORITY" after the name, e.g. GROUP "G1" MASTER 100, got " MASTER 0 extra"',
      ],
      [
        'INSTANCE "VI_1" MASTR 100',
        'keepalived FIFO line "INSTANCE \\"VI_1\\" MASTR 100": STATE must be MASTER, BACKUP, FAULT, STOP, DELETED, MASTER_RX_LOWER_PRI, MASTER_PRIORITY or BACKUP_PRIORITY, got "MASTR"',
      ],
      [
        'INSTANCE "VI_1" MASTER 1000',
        'keepalived FIFO line "INSTANCE \\"VI_1\\" MASTER 1000": PRIORITY must be a priority from 0 to 255, got "1000"',
      ],
      // half a line, as two readers on one FIFO produce (docs/conntrackd-compat.md §3.3)
      [
        'TANCE "VI_1" MASTER 100',
        'keepalived FIFO line "TANCE \\"VI_1\\" MASTER 100": TYPE must be INSTANCE or GROUP (or VS/RS for checker lines), got "TANCE"',
      ],
    ];
    for (const [line, message] of cases) assert.equal(errorOf(() => parseFifoLine(line)).message, message, line);
  });

  it('shortens very long bad lines in the message', () => {
    const e = errorOf(() => parseFifoLine('X'.repeat(500)));
    assert.ok(e.message.startsWith(`keepalived FIFO line "${'X'.repeat(117)}...": TYPE`));
  });

  it('property: eventText gives back a line that parses to the same event', () => {
    fc.assert(
      fc.property(
        fc.constantFrom<'INSTANCE' | 'GROUP'>('INSTANCE', 'GROUP'),
        fc.stringMatching(/^[A-Za-z0-9_.-]{1,20}$/),
        fc.constantFrom<KeepalivedEvent['state']>(
          'MASTER',
          'BACKUP',
          'FAULT',
          'STOP',
          'DELETED',
          'MASTER_RX_LOWER_PRI',
          'MASTER_PRIORITY',
          'BACKUP_PRIORITY',
        ),
        fc.integer({ min: 0, max: 255 }),
        (type, name, state, priority) => {
          const e = ev(type, name, state, priority);
          assert.deepEqual(parseFifoLine(eventText(e)), { kind: 'vrrp', event: e });
        },
      ),
    );
  });

  it('property: arbitrary text never throws anything but KeepalivedInputError', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 80 }), (s) => {
        try {
          parseFifoLine(s);
        } catch (e) {
          assert.ok(e instanceof KeepalivedInputError);
        }
      }),
    );
  });
});

describe('ha keepalived: tracking instances and groups', () => {
  const req = (target: Target, detail: string): TrackDecision => ({
    kind: 'request',
    target: target as 'active',
    detail,
  });

  it('one instance: MASTER → active, BACKUP → backup, FAULT → fault, STOP/DELETED → backup', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1'] });
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)), req('active', 'INSTANCE "VI_1" MASTER 100'));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'BACKUP', 100)), req('backup', 'INSTANCE "VI_1" BACKUP 100'));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'FAULT', 100)), req('fault', 'INSTANCE "VI_1" FAULT 100'));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'STOP', 100)), req('backup', 'INSTANCE "VI_1" STOP 100'));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'DELETED', 100)), req('backup', 'INSTANCE "VI_1" DELETED 100'));
  });

  it('a repeated state is requested again (the machine collapses it; it retries an aborted promotion)', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1'] });
    t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100));
    assert.equal(t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)).kind, 'request');
  });

  it('informational FIFO states only request when they change the target', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1'] });
    t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER_RX_LOWER_PRI', 100)), {
      kind: 'unchanged',
      target: 'active',
      detail: 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 100',
    });
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER_PRIORITY', 90)), {
      kind: 'unchanged',
      target: 'active',
      detail: 'INSTANCE "VI_1" MASTER_PRIORITY 90',
    });
    // a BACKUP_PRIORITY while we think it is MASTER means we missed the change (notify scripts out of order)
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_1', 'BACKUP_PRIORITY', 80)),
      req('backup', 'INSTANCE "VI_1" BACKUP_PRIORITY 80'),
    );
    assert.deepEqual(t.snapshot(), {
      follows: 'instances',
      names: { VI_1: { state: 'BACKUP', priority: 80 } },
      target: 'backup',
    });
  });

  it('several instances: active only when ALL are MASTER', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1', 'VI_2'] });
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)), {
      kind: 'waiting',
      missing: ['VI_2'],
      detail: 'INSTANCE "VI_1" MASTER 100 (waiting for VI_2)',
    });
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_2', 'MASTER', 100)),
      req('active', 'INSTANCE "VI_2" MASTER 100 (all of VI_1, VI_2 MASTER)'),
    );
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_1', 'BACKUP', 90)),
      req('backup', 'INSTANCE "VI_1" BACKUP 90 (not MASTER: VI_1 BACKUP)'),
    );
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)),
      req('active', 'INSTANCE "VI_1" MASTER 100 (all of VI_1, VI_2 MASTER)'),
    );
  });

  it('several instances: any FAULT wins, even over BACKUP', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1', 'VI_2', 'VI_3'] });
    t.update(ev('INSTANCE', 'VI_1', 'BACKUP', 90));
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_3', 'FAULT', 0)),
      req('fault', 'INSTANCE "VI_3" FAULT 0 (FAULT: VI_3)'),
    );
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_2', 'MASTER', 100)),
      req('fault', 'INSTANCE "VI_2" MASTER 100 (FAULT: VI_3)'),
    );
  });

  it('several instances: one BACKUP decides backup even while others have not reported', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1', 'VI_2'] });
    assert.deepEqual(
      t.update(ev('INSTANCE', 'VI_2', 'BACKUP', 90)),
      req('backup', 'INSTANCE "VI_2" BACKUP 90 (not MASTER: VI_2 BACKUP)'),
    );
  });

  it('several instances: keepalived shutting down (STOP for each) → backup', () => {
    const t = new KeepalivedTracker({ instances: ['VI_1', 'VI_2'] });
    t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100));
    t.update(ev('INSTANCE', 'VI_2', 'MASTER', 100));
    assert.equal((t.update(ev('INSTANCE', 'VI_1', 'STOP', 100)) as { target: string }).target, 'backup');
    assert.equal((t.update(ev('INSTANCE', 'VI_2', 'STOP', 100)) as { target: string }).target, 'backup');
  });

  it('with a group only group events count; member instance events are ignored', () => {
    const t = new KeepalivedTracker({ groups: ['G1'] });
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)), {
      kind: 'ignored',
      why: 'instance event; following groups G1',
    });
    assert.deepEqual(t.update(ev('GROUP', 'G1', 'MASTER', 0)), req('active', 'GROUP "G1" MASTER 0'));
    assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'FAULT', 0)), {
      kind: 'ignored',
      why: 'instance event; following groups G1',
    });
    assert.deepEqual(t.update(ev('GROUP', 'G1', 'FAULT', 0)), req('fault', 'GROUP "G1" FAULT 0'));
  });

  it('events for other groups / instances are ignored', () => {
    const t = new KeepalivedTracker({ groups: ['G1'] });
    assert.deepEqual(t.update(ev('GROUP', 'G2', 'MASTER', 0)), {
      kind: 'ignored',
      why: 'group G2 is not tracked (following G1)',
    });
    const i = new KeepalivedTracker({ instances: ['VI_1'] });
    assert.deepEqual(i.update(ev('GROUP', 'G1', 'MASTER', 0)), {
      kind: 'ignored',
      why: 'group event; following instances VI_1',
    });
    assert.deepEqual(i.update(ev('INSTANCE', 'VI_9', 'MASTER', 0)), {
      kind: 'ignored',
      why: 'instance VI_9 is not tracked (following VI_1)',
    });
    assert.deepEqual(i.snapshot(), { follows: 'instances', names: { VI_1: {} } });
  });

  it('without a track config, takes every event on its own (primary-backup.sh style)', () => {
    for (const t of [new KeepalivedTracker({}), new KeepalivedTracker({ instances: [] })]) {
      assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'MASTER', 100)), {
        kind: 'request',
        target: 'active',
        detail: 'INSTANCE "VI_1" MASTER 100',
      });
      assert.deepEqual(t.update(ev('GROUP', 'G1', 'BACKUP', 0)), {
        kind: 'request',
        target: 'backup',
        detail: 'GROUP "G1" BACKUP 0',
      });
      assert.deepEqual(t.update(ev('INSTANCE', 'VI_1', 'FAULT', 100)), {
        kind: 'request',
        target: 'fault',
        detail: 'INSTANCE "VI_1" FAULT 100',
      });
      assert.equal(t.snapshot().follows, 'any');
    }
  });
});

describe('ha keepalived: FIFO lines drive the machine', () => {
  function machineWithLog() {
    const { actions, calls } = recordingActions();
    const lines: string[] = [];
    const log = {
      error: (m: string) => lines.push(`error ${m}`),
      warn: (m: string) => lines.push(`warn ${m}`),
      info: () => 0,
      verbose: (m: string) => lines.push(`verbose ${m}`),
      debug: (m: string) => lines.push(`debug ${m}`),
    };
    const m = new FailoverMachine({ actions, log });
    return { m, calls, lines, log };
  }

  it('a FIFO session: group events switch roles, instance and checker lines and garbage change nothing', async () => {
    const { m, calls, lines, log } = machineWithLog();
    const onLine = fifoLineHandler(new KeepalivedTracker({ groups: ['G1'] }), m, log);
    for (const l of ['INSTANCE "VI_1" BACKUP 100', 'GROUP "G1" BACKUP 0', 'VS [192.0.2.10]:tcp:80 UP', 'garbage'])
      onLine(l);
    await m.idle();
    assert.equal(m.currentRole, 'backup');
    assert.deepEqual(calls, ['resync', 'purge']);
    assert.ok(
      lines.includes(
        'warn ha: keepalived FIFO line "garbage": TYPE must be INSTANCE or GROUP (or VS/RS for checker lines), got "garbage"; line ignored',
      ),
    );
    assert.ok(
      lines.includes('debug ha: keepalived INSTANCE "VI_1" BACKUP 100 ignored: instance event; following groups G1'),
    );
    onLine('GROUP "G1" MASTER 0');
    onLine('GROUP "G1" MASTER 0');
    await m.idle();
    assert.equal(m.currentRole, 'active');
    assert.equal(calls.filter((c) => c === 'commit').length, 1, 'MASTER twice commits once');
    const last = m.status().last!;
    assert.deepEqual(last.reason, { source: 'fifo', detail: 'GROUP "G1" MASTER 0' });
  });

  it('notify arguments go the same way, with source notify', async () => {
    const { m, log } = machineWithLog();
    const d = applyKeepalivedEvent(
      parseNotifyArgs(['INSTANCE', 'VI_1', 'FAULT', '0']),
      new KeepalivedTracker({ instances: ['VI_1'] }),
      m,
      log,
    );
    assert.equal(d.kind, 'request');
    await m.idle();
    assert.equal(m.currentRole, 'fault');
    assert.deepEqual(m.status().last!.reason, { source: 'notify', detail: 'INSTANCE "VI_1" FAULT 0' });
  });
});
