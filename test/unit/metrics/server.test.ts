import assert from 'node:assert/strict';
import net from 'node:net';
import { Registry } from 'prom-client';
import { MetricsServer } from '../../../src/metrics/server.js';

describe('metrics: HTTP server', () => {
  it('refuses to start on an address in use, naming it', async () => {
    const taken = net.createServer();
    await new Promise<void>((r) => taken.listen(0, '127.0.0.1', r));
    const port = (taken.address() as net.AddressInfo).port;
    const server = new MetricsServer({ address: '127.0.0.1', port }, new Registry(), () => undefined);
    try {
      await assert.rejects(
        server.listen(),
        new RegExp(`metrics: cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`),
      );
    } finally {
      taken.close();
    }
  });

  it('names an IPv6 address in brackets', () => {
    assert.equal(
      new MetricsServer({ address: '::1', port: 9469 }, new Registry(), () => undefined).where(),
      '[::1]:9469',
    );
  });
});
