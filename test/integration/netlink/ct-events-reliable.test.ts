// NetlinkEventsReliable on the real kernel: the event socket carries NETLINK_BROADCAST_ERROR and
// NETLINK_NO_ENOBUFS, the two options conntrackd sets for it (read back with getsockopt), and
// neither without it.
import { strict as assert } from 'node:assert';
import { ConntrackEvents } from '../../../src/netlink/conntrack-events.js';
import { NETLINK_BROADCAST_ERROR, NETLINK_NO_ENOBUFS } from '../../../src/netlink/constants.js';
import type { NetlinkSocket } from '../../../src/netlink/socket.js';
import { requireRoot } from '../../helpers/netns.js';

const optionsOf = (events: ConntrackEvents): number[] => {
  const socket = (events as unknown as { socket: NetlinkSocket }).socket;
  return [socket.netlinkOption(NETLINK_BROADCAST_ERROR), socket.netlinkOption(NETLINK_NO_ENOBUFS)];
};

describe('kernel events: NetlinkEventsReliable', function () {
  before(function () {
    requireRoot.call(this);
  });

  it('sets NETLINK_BROADCAST_ERROR and NETLINK_NO_ENOBUFS on the event socket, and only then', () => {
    const reliable = new ConntrackEvents({ reliable: true, rcvbuf: 1 << 20 });
    const plain = new ConntrackEvents({ rcvbuf: 1 << 20 });
    try {
      assert.deepEqual(optionsOf(reliable), [1, 1]);
      assert.deepEqual(optionsOf(plain), [0, 0]);
    } finally {
      reliable.close();
      plain.close();
    }
  });
});
