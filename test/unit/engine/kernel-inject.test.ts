// DisableExternalCache on (src/engine/kernel-inject.ts): the peer's messages reach the (fake)
// kernel in arrival order, and the external cache stays empty.
import { strict as assert } from 'node:assert';
import { flowKey } from '../../../src/conntrack/key.js';
import { FLAG, MSG } from '../../../src/sync/wire.js';
import { FakePeer, startedEngine, udpFlow } from '../../helpers/engine-fakes.js';

describe('engine: kernel injection (DisableExternalCache on)', () => {
  it('CT_NEW creates, CT_UPD updates or creates, CT_DEL deletes, in order; nothing is cached', async () => {
    const rig = await startedEngine((c) => {
      c.sync.disableExternalCache = true;
    });
    const peer = new FakePeer(rig.channel);
    const a = udpFlow(1, { reply: undefined, mark: 1 });
    const b = udpFlow(2, { reply: undefined });
    peer.send((m, next) => {
      m.addCt(MSG.CT_NEW, FLAG.HELLO, next(), a);
      m.addCt(MSG.CT_UPD, 0, next(), b); // unknown to the kernel: created
      m.addCt(MSG.CT_UPD, 0, next(), { ...a, mark: 9 });
      m.addCt(MSG.CT_NEW, 0, next(), udpFlow(3, { reply: undefined }));
      m.addCt(MSG.CT_DEL, 0, next(), udpFlow(3, { reply: undefined }));
    });
    await rig.engine.injector!.idle();
    const table = rig.kernel.table;
    assert.deepEqual([...table.keys()].sort(), [flowKey(a), flowKey(b)].sort());
    assert.equal(table.get(flowKey(a))!.mark, 9);
    assert.equal(rig.engine.external.size, 0);
    assert.deepEqual(
      { ...rig.engine.injector!.ct },
      { created: 2, createFailed: 0, updated: 2, updateFailed: 0, deleted: 1, deleteFailed: 0 },
    );
  });
});

describe('engine: kernel injection, repeated flows', () => {
  it('a flow sent twice in one run is one request with its later state (no EEXIST failure)', async () => {
    const rig = await startedEngine((c) => {
      c.sync.disableExternalCache = true;
    });
    rig.kernel.add(udpFlow(1));
    const created: number[] = [];
    const create = rig.kernel.create.bind(rig.kernel);
    rig.kernel.create = async (entries) => {
      created.push(entries.length);
      return create(entries);
    };
    const peer = new FakePeer(rig.channel);
    peer.send((m, next) => {
      m.addCt(MSG.CT_NEW, FLAG.HELLO, next(), udpFlow(1, { reply: undefined, mark: 1 }));
      m.addCt(MSG.CT_NEW, 0, next(), udpFlow(1, { reply: undefined, mark: 2 }));
    });
    await rig.engine.injector!.idle();
    assert.deepEqual(created, [1]);
    assert.equal(rig.kernel.table.get(flowKey(udpFlow(1)))!.mark, 2);
  });
});
