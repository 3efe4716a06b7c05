import { strict as assert } from 'node:assert';
import { HEALTH_DEFAULTS, resolveHealthConfig } from '../../../src/health/config.js';
import { validateConfig } from '../../../src/config/schema.js';
import { withDefaults } from '../../../src/config/model.js';

const minimal = (health: unknown) => ({
  sync: {
    channels: [{ kind: 'udp', ipv4Address: '192.0.2.1', destination: '192.0.2.2', port: 3780, interface: 'eth1' }],
  },
  health,
});

function errorOf(value: unknown): string {
  try {
    validateConfig(value, 'ctsync.json');
  } catch (err) {
    return (err as Error).message;
  }
  return assert.fail('expected a ConfigError');
}

describe('health/config', () => {
  it('has a default for every setting, and takes what is given', () => {
    assert.deepEqual(resolveHealthConfig(undefined), HEALTH_DEFAULTS);
    const r = resolveHealthConfig({
      peerSilentSeconds: 3,
      audit: { periodSeconds: 0 },
      trackFile: { path: '/run/ctsync/synced' },
    });
    assert.equal(r.thresholds.peerSilentSeconds, 3);
    assert.equal(r.thresholds.overrunCount, HEALTH_DEFAULTS.thresholds.overrunCount);
    assert.deepEqual(r.audit, { ...HEALTH_DEFAULTS.audit, periodSeconds: 0 });
    assert.deepEqual(r.trackFile, { path: '/run/ctsync/synced', weight: 50 });
  });

  it('passes the section through the configuration model', () => {
    const input = minimal({ overrunCount: 5 }) as Parameters<typeof withDefaults>[0];
    assert.deepEqual(withDefaults(input).health, { overrunCount: 5 });
  });

  it('refuses bad values, naming each with what is expected', () => {
    const message = errorOf(
      minimal({ peerSilentSeconds: 0, resendQueueNearFull: 2, bogus: 1, trackFile: { path: 'rel', weight: 300 } }),
    );
    assert.deepEqual(message.split('\n').filter(Boolean), [
      'ctsync.json: health.bogus: unknown key (expected one of: peerSilentSeconds, lossWindowSeconds, resendQueueNearFull, overrunCount, overrunWindowSeconds, auditFailedFraction, resyncRetrySeconds, periodSeconds, audit, trackFile)',
      'ctsync.json: health.peerSilentSeconds: must be > 0, got 0',
      'ctsync.json: health.resendQueueNearFull: must be <= 1, got 2',
      'ctsync.json: health.trackFile.path: must be an absolute file path, got "rel"',
      'ctsync.json: health.trackFile.weight: must be <= 253, got 300',
    ]);
  });
});
