// Mode ALARM (src/sync/alarm.ts) on a fake clock: a refresh bulk every RefreshTime, no control
// messages, flagged messages ignored (not even sequence-tracked), data applied whatever its sequence.
import { strict as assert } from 'node:assert';
import { Alarm } from '../../../src/sync/alarm.js';
import { FLAG, MSG } from '../../../src/sync/nethdr.js';
import type { BulkReason, TxSink } from '../../../src/sync/ftfw-types.js';
import { ManualClock } from '../../helpers/fakes.js';

describe('sync: ALARM', () => {
  it('asks for a refresh bulk every RefreshTime, and sends no ALIVE or RESYNC', () => {
    const clock = new ManualClock();
    const bulks: BulkReason[] = [];
    let pending = 0;
    const a = new Alarm<string>(
      clock,
      { bulk: (r) => bulks.push(r), txPending: () => pending++ },
      { refreshMs: 60_000 },
    );
    a.start();
    a.requestResync();
    const sent: string[] = [];
    const sink: TxSink<string> = { object: (o) => sent.push(o), control: (k) => sent.push(k) };
    clock.advance(59_999);
    assert.deepEqual(bulks, []);
    clock.advance(1);
    assert.deepEqual(bulks, ['refresh']);
    clock.advance(60_000);
    assert.deepEqual(bulks, ['refresh', 'refresh']);
    a.queueObject('x');
    a.transmitTo(sink);
    clock.advance(10_000);
    a.transmitTo(sink);
    assert.deepEqual(sent, ['x'], 'only the object: no ALIVE, no RESYNC');
    assert.equal(pending, 0);
    a.stop();
    clock.advance(600_000);
    assert.equal(bulks.length, 2);
  });

  it('ignores flagged messages, applies data whatever its sequence', () => {
    const a = new Alarm<string>(new ManualClock(), {}, { refreshMs: 1000 });
    assert.equal(a.receiveHeader(MSG.CT_NEW, 0, 10), 'apply');
    assert.equal(a.receiveHeader(MSG.CT_UPD, 0, 5), 'apply');
    assert.equal(a.receiveHeader(MSG.CTL, FLAG.RESYNC, 11), 'control');
    assert.equal(a.receiveHeader(MSG.CT_NEW, FLAG.HELLO, 12), 'control');
    assert.equal(a.stats().dataReceived, 2);
    // conntrackd tracks sequence numbers only of the messages it does not ignore
    assert.equal(a.stats().msgsReceived, 2);
    assert.equal(a.stats().before, 1);
  });
});
