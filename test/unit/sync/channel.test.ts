// The sync channel's address rules that need no socket: which IPv6 addresses get the scope of
// Interface (the rest of the channel is proven in test/integration/sync/).
import { strict as assert } from 'node:assert';
import { needsScope } from '../../../src/sync/channel.js';

describe('sync channel: IPv6 scope', () => {
  it('link-local unicast and link- or interface-scoped multicast need the scope of Interface', () => {
    for (const a of ['fe80::1', 'FE80::215:58ff:fe28:5a27', 'febf::1', 'ff02::1:3780', 'ff01::1', 'ff12::1'])
      assert.ok(needsScope(a), a);
  });
  it('global, unique-local, loopback, wider multicast and IPv4 addresses do not', () => {
    for (const a of ['2001:db8::1', 'fd00::1', '::1', '::', 'ff05::1', 'ff0e::1', 'fec0::1', '192.0.2.1', '0.0.0.0'])
      assert.ok(!needsScope(a), a);
  });
});
