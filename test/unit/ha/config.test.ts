// src/ha/config.ts: the `ha` and `hooks` schema fragments compile inside the project's config
// schema with the same strict ajv settings and formats as src/config/schema.ts (what wiring them
// in will do), accept the documented examples, reject mistakes at the right key; the semantic
// checks; and the defaults.
import { strict as assert } from 'node:assert';
import { Ajv } from 'ajv';
import cron from 'node-cron';
import { configSchema, isIPv4, isIPv6, isInterfaceName } from '../../../src/config/schema.js';
import { HA_DEFAULTS, checkHaConfig, haSchema, hooksSchema, resolveHaConfig } from '../../../src/ha/config.js';

function cidr(s: string, v4: boolean): boolean {
  const [addr = '', len] = s.split('/');
  if (!(v4 ? isIPv4(addr) : isIPv6(addr))) return false;
  return len === undefined || (/^[0-9]{1,3}$/.test(len) && Number(len) <= (v4 ? 32 : 128));
}

// the settings of src/config/schema.ts
const ajv = new Ajv({
  allErrors: true,
  verbose: true,
  discriminator: true,
  strict: true,
  strictTypes: false,
  strictRequired: false,
});
ajv.addKeyword({ keyword: 'expected', schemaType: 'string' });
ajv.addFormat('ipv4', { type: 'string', validate: isIPv4 });
ajv.addFormat('ipv6', { type: 'string', validate: isIPv6 });
ajv.addFormat('ip', { type: 'string', validate: (s: string) => isIPv4(s) || isIPv6(s) });
ajv.addFormat('ipv4-cidr', { type: 'string', validate: (s: string) => cidr(s, true) });
ajv.addFormat('ipv6-cidr', { type: 'string', validate: (s: string) => cidr(s, false) });
ajv.addFormat('ifname', { type: 'string', validate: isInterfaceName });
ajv.addFormat('abs-path', { type: 'string', validate: (s: string) => s.startsWith('/') && !s.includes('\0') });
ajv.addFormat('cron', { type: 'string', validate: (s: string) => cron.validate(s) });

const wired = {
  ...configSchema,
  $id: 'urn:ctsync:schema:config-ha-test',
  properties: { ...configSchema.properties, ha: haSchema, hooks: hooksSchema },
};
const validate = ajv.compile(wired);

const base = {
  sync: {
    channels: [{ kind: 'udp', ipv4Address: '192.0.2.1', destination: '192.0.2.2', port: 3780, interface: 'eth1' }],
  },
};

/** `path keyword` of each error, for compact assertions. */
function errors(value: unknown): string[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map((e) => `${e.instancePath} ${e.keyword}`);
}

describe('ha config: schema fragments', () => {
  it('compile with the project schema in strict mode and accept the documented example', () => {
    const cfg = {
      ...base,
      ha: {
        track: { groups: ['G1'] },
        fifo: { path: '/run/keepalived/ctsync.fifo', create: true },
        guard: {
          enabled: true,
          virtualAddresses: ['192.0.2.1', '2001:db8::1'],
          interfaces: ['eth1'],
          exemptSources: ['198.51.100.0/24', '2001:db8:1::/48'],
          maxHoldMs: 2000,
        },
        initialRole: 'backup',
        node: 'gw-a',
        historySize: 64,
        stepTimeoutMs: 60000,
      },
      hooks: {
        prePromote: '/etc/ctsync/pre-promote --check',
        postPromote: ['/etc/ctsync/post', 'a b'],
        preDemote: '/x',
        postDemote: '/y',
        timeoutMs: 10000,
        onPreHookFailure: 'abort',
      },
    };
    assert.deepEqual(errors(cfg), []);
    assert.deepEqual(errors({ ...base, ha: { track: { instances: ['VI_1', 'VI_2'] } } }), []);
  });

  it('rejects mistakes at their key', () => {
    const cases: Array<[unknown, string[]]> = [
      [{ ha: {} }, ['/ha required']],
      [{ ha: { track: {} } }, ['/ha/track minProperties']],
      [{ ha: { track: { groups: [] } } }, ['/ha/track/groups minItems']],
      [{ ha: { track: { group: ['G1'] } } }, ['/ha/track additionalProperties']],
      [{ ha: { track: { instances: ['VI 1'] } } }, ['/ha/track/instances/0 pattern']],
      [
        { ha: { track: { groups: ['G1'] }, guard: { virtualAddresses: ['192.0.2.300'] } } },
        ['/ha/guard/virtualAddresses/0 format'],
      ],
      [{ ha: { track: { groups: ['G1'] }, guard: { maxHoldMs: 10 } } }, ['/ha/guard/maxHoldMs minimum']],
      [
        { ha: { track: { groups: ['G1'] }, guard: { exemptSources: ['any'] } } },
        ['/ha/guard/exemptSources/0 format', '/ha/guard/exemptSources/0 format', '/ha/guard/exemptSources/0 anyOf'],
      ],
      [{ ha: { track: { groups: ['G1'] }, initialRole: 'active' } }, ['/ha/initialRole const']],
      [{ ha: { track: { groups: ['G1'] }, fifo: { path: 'relative.fifo' } } }, ['/ha/fifo/path format']],
      [
        { hooks: { prePromote: 'pre-promote.sh' } },
        ['/hooks/prePromote type', '/hooks/prePromote pattern', '/hooks/prePromote anyOf'],
      ],
      [{ hooks: { onPreHookFailure: 'ignore' } }, ['/hooks/onPreHookFailure enum']],
      [{ hooks: { timeoutMs: 0 } }, ['/hooks/timeoutMs minimum']],
    ];
    for (const [patch, expected] of cases) {
      const got = errors({ ...base, ...(patch as object) });
      for (const e of expected)
        assert.ok(got.includes(e), `${JSON.stringify(patch)}: expected ${e} in ${JSON.stringify(got)}`);
      assert.ok(got.length > 0);
    }
  });

  it('every property carries an `expected` text for the error messages', () => {
    const walk = (node: Record<string, unknown>, at: string) => {
      const props = node.properties as Record<string, Record<string, unknown>> | undefined;
      for (const [k, v] of Object.entries(props ?? {})) {
        assert.equal(typeof v.expected, 'string', `${at}.${k} has no expected`);
        walk(v, `${at}.${k}`);
      }
    };
    walk(haSchema as unknown as Record<string, unknown>, 'ha');
    walk(hooksSchema as unknown as Record<string, unknown>, 'hooks');
  });
});

describe('ha config: checks beyond the schema', () => {
  it('groups and instances together are refused', () => {
    assert.deepEqual(checkHaConfig({ ha: { track: { groups: ['G1'], instances: ['VI_1'] } } }), [
      {
        path: 'ha.track',
        message:
          "must list groups or instances, not both (with a sync group only GROUP events count; attach ctsync to the group, as conntrackd's reference config does)",
      },
    ]);
  });

  it('an enabled guard needs something to hold', () => {
    assert.deepEqual(checkHaConfig({ ha: { track: { groups: ['G1'] }, guard: { enabled: true } } }), [
      {
        path: 'ha.guard.virtualAddresses',
        message: 'is empty; an enabled guard needs virtualAddresses or interfaces to hold',
      },
    ]);
    assert.deepEqual(
      checkHaConfig({ ha: { track: { groups: ['G1'] }, guard: { enabled: true, interfaces: ['eth1'] } } }),
      [],
    );
    assert.deepEqual(checkHaConfig({ ha: { track: { groups: ['G1'] }, guard: { enabled: false } } }), []);
  });

  it('a hook given as a list starts with an absolute path', () => {
    assert.deepEqual(checkHaConfig({ hooks: { postDemote: ['post-demote.sh', '-v'] } }), [
      { path: 'hooks.postDemote[0]', message: 'must be an absolute path (the program to run), got "post-demote.sh"' },
    ]);
    assert.deepEqual(checkHaConfig({ hooks: { postDemote: ['/usr/local/bin/post-demote', '-v'] } }), []);
  });

  it('ignores what is not there', () => {
    assert.deepEqual(checkHaConfig({}), []);
    assert.deepEqual(checkHaConfig(null), []);
  });
});

describe('ha config: defaults', () => {
  it('fills every default', () => {
    assert.deepEqual(resolveHaConfig({ track: { groups: ['G1'] } }), {
      track: { groups: ['G1'] },
      guard: { enabled: false, virtualAddresses: [], interfaces: [], exemptSources: [], maxHoldMs: 2000 },
      onDemand: {
        enabled: false,
        queue: 3780,
        copyRange: 128,
        maxQueueLength: 4096,
        maxWaitMs: 100,
        maxCommitsPerSecond: 50000,
        maxHoldMs: 30000,
      },
      hooks: { timeoutMs: 10000, onPreHookFailure: 'continue' },
      historySize: 32,
      stepTimeoutMs: 120000,
    });
    assert.equal(HA_DEFAULTS.maxHoldMs, 2000);
  });

  it('keeps what is given', () => {
    const r = resolveHaConfig(
      {
        track: { instances: ['VI_1'] },
        fifo: { path: '/run/k.fifo' },
        guard: { enabled: true, virtualAddresses: ['192.0.2.1'], maxHoldMs: 1500 },
        initialRole: 'backup',
        node: 'gw-b',
      },
      { prePromote: '/p', onPreHookFailure: 'abort' },
    );
    assert.deepEqual(r.fifo, { path: '/run/k.fifo', create: true });
    assert.deepEqual(r.guard, {
      enabled: true,
      virtualAddresses: ['192.0.2.1'],
      interfaces: [],
      exemptSources: [],
      maxHoldMs: 1500,
    });
    assert.deepEqual(r.hooks, { prePromote: '/p', timeoutMs: 10000, onPreHookFailure: 'abort' });
    assert.deepEqual(resolveHaConfig({ track: {}, onDemand: { enabled: false, maxWaitMs: 20 } }).onDemand, {
      ...HA_DEFAULTS.onDemand,
      enabled: false,
      maxWaitMs: 20,
    });
    assert.equal(r.initialRole, 'backup');
    assert.equal(r.node, 'gw-b');
  });
});
