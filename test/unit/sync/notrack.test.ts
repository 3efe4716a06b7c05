// Mode NOTRACK (src/sync/notrack.ts) on a fake clock: each object out once, no resend queue, ALIVE
// after a second of silence, RESYNC as 16 bytes answered with a bulk, and every data message
// applied whatever its sequence number.
import { strict as assert } from 'node:assert';
import { NoTrack } from '../../../src/sync/notrack.js';
import { FLAG, MSG } from '../../../src/sync/nethdr.js';
import type { BulkReason, TxSink } from '../../../src/sync/ftfw-types.js';
import { ManualClock } from '../../helpers/fakes.js';

type Sent = { kind: string; seq: number; flags: number; obj?: string };

function rig(startupResync = false) {
  const clock = new ManualClock();
  const released: string[] = [];
  const bulks: BulkReason[] = [];
  let pending = 0;
  const nt = new NoTrack<string>(
    clock,
    { released: (o) => released.push(o), bulk: (r) => bulks.push(r), txPending: () => pending++ },
    { startupResync },
  );
  const pass = (): Sent[] => {
    const out: Sent[] = [];
    const sink: TxSink<string> = {
      object: (obj, seq, flags) => out.push({ kind: 'object', seq, flags, obj }),
      control: (kind, seq, flags) => out.push({ kind, seq, flags }),
    };
    nt.transmitTo(sink);
    return out;
  };
  return { clock, nt, released, bulks, pass, pending: () => pending };
}

describe('sync: NOTRACK', () => {
  it('sends each queued object once, flags 0, consecutive sequence numbers from the clock, then releases it', () => {
    const r = rig();
    r.nt.start();
    const second = Math.floor(r.clock.now() / 1000);
    r.nt.queueObject('a');
    r.nt.queueObject('b');
    r.nt.queueObject('a');
    assert.ok(r.nt.holds('a'));
    const out = r.pass();
    assert.deepEqual(
      out.map((m) => [m.obj, m.flags]),
      [
        ['a', 0],
        ['b', 0],
      ],
    );
    assert.equal(out[0].seq, second);
    assert.equal(out[1].seq, second + 1);
    assert.deepEqual(r.released, ['a', 'b']);
    assert.ok(!r.nt.holds('a'));
    assert.deepEqual(r.pass(), [], 'nothing is sent again');
    assert.equal(r.nt.rsQueueDump(), '');
  });

  it('says ALIVE after a second without a transmission', () => {
    const r = rig();
    r.nt.start();
    r.clock.advance(999);
    assert.equal(r.pending(), 0);
    r.clock.advance(1);
    assert.equal(r.pending(), 1);
    const [alive] = r.pass();
    assert.equal(alive.kind, 'alive');
    assert.equal(alive.flags, FLAG.ALIVE);
    // a transmission puts the next ALIVE a second later
    r.clock.advance(500);
    r.nt.queueObject('x');
    r.pass();
    r.clock.advance(999);
    assert.equal(r.pending(), 1);
    r.clock.advance(1);
    assert.equal(r.pending(), 2);
  });

  it('-n and StartupResync send a RESYNC (from = to = 0); a received RESYNC asks for a bulk', () => {
    const r = rig(true);
    r.nt.start();
    const [resync] = r.pass();
    assert.deepEqual([resync.kind, resync.flags], ['resync', FLAG.RESYNC]);
    assert.equal(r.nt.receiveHeader(MSG.CTL, FLAG.RESYNC, 7, 0, 0), 'control');
    assert.deepEqual(r.bulks, ['resync-requested']);
    r.nt.requestBulk();
    assert.deepEqual(r.bulks, ['resync-requested', 'local']);
  });

  it('applies data whatever its sequence, counts gaps and late ones, and calls ACK/NACK malformed', () => {
    const r = rig();
    assert.equal(r.nt.peerLastRxAt, -Infinity, 'nothing heard yet');
    assert.equal(r.nt.receiveHeader(MSG.CT_NEW, 0, 100), 'apply');
    assert.equal(r.nt.peerLastRxAt, r.clock.now(), 'the peer heard now (metrics: its silence)');
    assert.equal(r.nt.receiveHeader(MSG.CT_UPD, 0, 105), 'apply');
    assert.equal(r.nt.receiveHeader(MSG.CT_DEL, 0, 101), 'apply');
    assert.equal(r.nt.receiveHeader(MSG.EXP_NEW, FLAG.HELLO, 102), 'apply');
    assert.equal(r.nt.receiveHeader(MSG.CTL, FLAG.ALIVE, 103), 'control');
    assert.equal(r.nt.receiveHeader(MSG.CTL, FLAG.ACK, 104, 1, 2), 'bad');
    assert.equal(r.nt.receiveHeader(MSG.CTL, FLAG.NACK, 105, 1, 2), 'bad');
    assert.equal(r.nt.receiveHeader(MSG.CT_NEW, FLAG.ACK, 106), 'bad');
    const s = r.nt.stats();
    assert.equal(s.dataReceived, 4);
    assert.equal(s.lostExact, 4);
    assert.equal(s.before, 1);
    assert.equal(s.badHeader, 3);
    assert.equal(s.lastSeqReceived, 106);
  });

  it('forget() drops a queued object unsent; stop() silences the timer', () => {
    const r = rig();
    r.nt.start();
    r.nt.queueObject('a');
    assert.equal(r.nt.forget('a'), true);
    assert.deepEqual(r.pass(), []);
    r.nt.stop();
    r.clock.advance(5000);
    assert.equal(r.pending(), 0);
  });
});

describe('sync: NOTRACK pacing', () => {
  it('a pass sends at most maxPerPass objects; the rest go after passGapMs', () => {
    const clock = new ManualClock();
    let pending = 0;
    const nt = new NoTrack<number>(clock, { txPending: () => pending++ }, { maxPerPass: 3, passGapMs: 2 });
    nt.start();
    for (let i = 0; i < 7; i++) nt.queueObject(i);
    const sent: number[] = [];
    const sink: TxSink<number> = { object: (o) => sent.push(o), control: () => undefined };
    nt.transmitTo(sink);
    assert.deepEqual(sent, [0, 1, 2]);
    nt.transmitTo(sink);
    assert.deepEqual(sent, [0, 1, 2], 'not before the gap');
    clock.advance(2);
    assert.equal(pending, 1);
    nt.transmitTo(sink);
    clock.advance(2);
    nt.transmitTo(sink);
    assert.deepEqual(sent, [0, 1, 2, 3, 4, 5, 6]);
  });
});
