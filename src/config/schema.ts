// JSON Schema of ctsync's native configuration (CtsyncConfigInput, see model.ts), checked with ajv,
// plus the checks a schema cannot express (one transport per config, address families, multicast
// ranges, protocol names). validateConfig() reports every problem at once, each with its key path
// and what was expected:
//   ctsync.json: sync.channels[0].port: must be <= 65535, got 70000
//   ctsync.json: sync.channels[0].prot: unknown key (did you mean "port"?)
//   ctsync.json: general.filter.protocol.protocols[1]: unknown protocol name "icmpv6" (did you mean "ipv6-icmp"?)
import { createRequire } from 'node:module';
import { checkHaConfig, haSchema, hooksSchema } from '../ha/config.js';
import { metricsSchema } from '../metrics/config.js';
import { healthSchema } from '../health/config.js';
import net from 'node:net';
import { Ajv, type ErrorObject } from 'ajv';
import { ConfigError, closest, type ConfigProblem } from './errors.js';
import type { CtsyncConfig, CtsyncConfigInput, SyncMode } from './model.js';
import { SYSLOG_FACILITIES, TCP_FILTER_STATES } from './model.js';
import { PROTOCOL_NAMES, protocolByNameLoose } from './protocols.js';
import { authProblems, authWarnings, authenticationSchema } from './auth-section.js';
import { checkHelpers, helpersSchema } from './helpers.js';
import { unsupportedSettings } from './unsupported.js';

/** A problem without its source: what checkConfig returns. */
export interface KeyedProblem {
  path: string;
  message: string;
  /** Another key path the problem refers to ("first at …"). */
  related?: string;
}

// ----------------------------------------------------------------------------------- formats

const INT_MAX = 2147483647; // conntrackd reads numbers into a C int

export function isIPv4(s: string): boolean {
  return net.isIPv4(s);
}

/** IPv6 without a zone index (`%eth0`): the interface is given separately. */
export function isIPv6(s: string): boolean {
  return !s.includes('%') && net.isIPv6(s);
}

function isCidr(s: string, v4: boolean): boolean {
  const slash = s.indexOf('/');
  const addr = slash < 0 ? s : s.slice(0, slash);
  if (!(v4 ? isIPv4(addr) : isIPv6(addr))) return false;
  if (slash < 0) return true;
  const len = s.slice(slash + 1);
  return /^[0-9]{1,3}$/.test(len) && Number(len) <= (v4 ? 32 : 128);
}

/** Linux dev_valid_name(): 1..15 bytes, not "." or "..", no '/', ':' or whitespace. */
export function isInterfaceName(s: string): boolean {
  return s.length >= 1 && Buffer.byteLength(s) <= 15 && s !== '.' && s !== '..' && !/[/:\s]/.test(s);
}

export function isMulticast(addr: string): boolean {
  if (isIPv4(addr)) {
    const first = Number(addr.split('.')[0]);
    return first >= 224 && first <= 239;
  }
  if (isIPv6(addr)) return /^ff/i.test(addr);
  return false;
}

// ------------------------------------------------------------------------------------ schema

const posInt = { type: 'integer', minimum: 1, maximum: INT_MAX, expected: `a whole number from 1 to ${INT_MAX}` };
const bool = { type: 'boolean', expected: 'true or false' };
const port = { type: 'integer', minimum: 1, maximum: 65535, expected: 'a UDP port number (1-65535)' };
const ipv4 = { type: 'string', format: 'ipv4', expected: 'an IPv4 address' };
const ipv6 = { type: 'string', format: 'ipv6', expected: 'an IPv6 address' };
const ip = { type: 'string', format: 'ip', expected: 'an IPv4 or IPv6 address' };
const ifname = {
  type: 'string',
  format: 'ifname',
  expected: 'a network interface name such as "eth2" (1-15 characters, no "/", ":" or spaces)',
};
const absPath = (max: number) => ({
  type: 'string',
  format: 'abs-path',
  maxLength: max,
  expected: `an absolute path (starting with "/", at most ${max} characters)`,
});
const mode = { enum: ['accept', 'ignore'], expected: '"accept" or "ignore"' };
const socketBuffer = { ...posInt, expected: 'a buffer size in bytes (1 to 2147483647)' };

const channelCommon = {
  default: bool,
  interface: ifname,
  sndSocketBuffer: socketBuffer,
  rcvSocketBuffer: socketBuffer,
  checksum: bool,
};

/** A channel of one kind: its own properties, then the common ones; `needs` is required too. */
function channelSchema(kind: string, needs: string, properties: Record<string, object>) {
  return {
    type: 'object',
    required: ['kind', needs, 'port', 'interface'],
    additionalProperties: false,
    properties: { kind: { const: kind }, ...properties, ...channelCommon },
  };
}

const udpChannel = channelSchema('udp', 'destination', {
  ipv4Address: { ...ipv4, expected: 'the local IPv4 address to bind' },
  ipv6Address: { ...ipv6, expected: 'the local IPv6 address to bind' },
  destination: { ...ip, expected: "the peer's IPv4 or IPv6 address" },
  port,
});

const tcpChannel = channelSchema('tcp', 'destination', {
  ipv4Address: { ...ipv4, expected: 'the local IPv4 address to listen on' },
  ipv6Address: { ...ipv6, expected: 'the local IPv6 address to listen on' },
  destination: { ...ip, expected: "the peer's IPv4 or IPv6 address (connected to; the only one accepted)" },
  port: { ...port, expected: 'a TCP port number (1-65535)' },
  errorQueueLength: { ...posInt, expected: 'how many buffers wait while the peer is unreachable (1 to 2147483647)' },
});

const multicastChannel = channelSchema('multicast', 'group', {
  group: { ...ip, expected: 'a multicast group address such as "225.0.0.50"' },
  port: { ...port, expected: 'a UDP port number (1-65535; conntrackd calls it "Group")' },
  ipv4Interface: { ...ipv4, expected: 'the local IPv4 address of the sync interface' },
});

const helperName = {
  type: 'string',
  minLength: 1,
  maxLength: 15,
  pattern: '^\\S+$',
  expected: 'a conntrack helper name such as "ftp" (1-15 characters, no spaces)',
};

export const configSchema = {
  $id: 'urn:ctsync:schema:config',
  title: 'ctsync configuration',
  type: 'object',
  required: ['sync'],
  additionalProperties: false,
  properties: {
    $schema: { type: 'string', expected: 'a string (a schema reference, for editors)' },
    sync: {
      type: 'object',
      required: ['channels'],
      expected: 'the sync section (an object with at least "channels")',
      additionalProperties: false,
      properties: {
        mode: { enum: ['ftfw', 'notrack', 'alarm'], expected: '"ftfw", "notrack" or "alarm"' },
        refreshTime: { ...posInt, expected: 'seconds (1 to 2147483647)' },
        cacheTimeout: { ...posInt, expected: 'seconds (1 to 2147483647)' },
        resendQueueSize: posInt,
        ackWindowSize: posInt,
        commitTimeout: { ...posInt, expected: 'seconds (1 to 2147483647)' },
        purgeTimeout: { ...posInt, expected: 'seconds (1 to 2147483647)' },
        disableExternalCache: bool,
        startupResync: bool,
        channels: {
          type: 'array',
          minItems: 1,
          maxItems: 4,
          expected: 'a list of 1 to 4 channels',
          items: {
            type: 'object',
            required: ['kind'],
            properties: { kind: { enum: ['udp', 'multicast', 'tcp'], expected: '"udp", "multicast" or "tcp"' } },
            discriminator: { propertyName: 'kind' },
            oneOf: [udpChannel, multicastChannel, tcpChannel],
            expected: 'a channel object with "kind": "udp", "multicast" or "tcp"',
          },
        },
        options: {
          type: 'object',
          additionalProperties: false,
          properties: {
            tcpWindowTracking: bool,
            expectationSync: {
              anyOf: [{ type: 'boolean' }, { type: 'array', minItems: 1, items: helperName }],
              expected: 'true, false or a non-empty list of helper names',
            },
          },
        },
        authentication: authenticationSchema,
      },
    },
    general: {
      type: 'object',
      additionalProperties: false,
      properties: {
        systemd: bool,
        hashSize: posInt,
        hashLimit: posInt,
        logFile: {
          anyOf: [{ type: 'boolean' }, absPath(256)],
          expected: 'false, true (/var/log/conntrackd.log) or an absolute path',
        },
        syslog: {
          anyOf: [{ type: 'boolean' }, { enum: SYSLOG_FACILITIES }],
          expected: `false, true ("daemon") or one of ${SYSLOG_FACILITIES.map((f) => `"${f}"`).join(', ')}`,
        },
        lockFile: absPath(256),
        unix: {
          type: 'object',
          additionalProperties: false,
          properties: { path: absPath(107), backlog: posInt },
        },
        netlinkBufferSize: { ...posInt, expected: 'a buffer size in bytes (1 to 2147483647)' },
        netlinkBufferSizeMaxGrowth: {
          type: 'integer',
          minimum: 0,
          maximum: INT_MAX,
          expected: 'a buffer size in bytes (0 to 2147483647)',
        },
        netlinkOverrunResync: {
          anyOf: [{ type: 'boolean' }, posInt],
          expected: 'false, true (30 s) or seconds (1 to 2147483647)',
        },
        netlinkEventsReliable: bool,
        pollSecs: { ...posInt, expected: 'seconds (1 to 2147483647)' },
        eventIterationLimit: posInt,
        scheduler: {
          type: 'object',
          required: ['type', 'priority'],
          additionalProperties: false,
          properties: {
            type: { enum: ['rr', 'fifo'], expected: '"rr" or "fifo"' },
            priority: { type: 'integer', minimum: 1, maximum: 99, expected: 'a real-time priority from 1 to 99' },
          },
        },
        filter: {
          type: 'object',
          additionalProperties: false,
          properties: {
            from: { enum: ['userspace', 'kernelspace'], expected: '"userspace" or "kernelspace"' },
            protocol: {
              type: 'object',
              required: ['mode', 'protocols'],
              additionalProperties: false,
              properties: {
                mode,
                protocols: {
                  type: 'array',
                  expected: 'a list of IP protocols',
                  items: {
                    anyOf: [
                      { type: 'integer', minimum: 0, maximum: 255 },
                      { type: 'string', minLength: 1 },
                    ],
                    expected: 'an IP protocol number (0-255) or a name from /etc/protocols such as "tcp"',
                  },
                },
              },
            },
            address: {
              type: 'object',
              required: ['mode'],
              additionalProperties: false,
              properties: {
                mode,
                ipv4: {
                  type: 'array',
                  items: {
                    type: 'string',
                    format: 'ipv4-cidr',
                    expected: 'an IPv4 address or network such as "192.168.0.0/24"',
                  },
                },
                ipv6: {
                  type: 'array',
                  items: {
                    type: 'string',
                    format: 'ipv6-cidr',
                    expected: 'an IPv6 address or network such as "fd00::/8"',
                  },
                },
              },
            },
            state: {
              type: 'object',
              required: ['mode', 'tcpStates'],
              additionalProperties: false,
              properties: {
                mode,
                tcpStates: {
                  type: 'array',
                  items: { enum: TCP_FILTER_STATES, expected: `a TCP state: ${TCP_FILTER_STATES.join(', ')}` },
                },
              },
            },
          },
        },
      },
    },
    // ctsync-only sections: their schemas live with their modules.
    ha: haSchema,
    hooks: hooksSchema,
    log: {
      type: 'object',
      additionalProperties: false,
      expected: 'the log section: {"level": "info"}',
      properties: {
        level: {
          enum: ['error', 'warn', 'info', 'verbose', 'debug'],
          expected: 'a log level: error, warn, info, verbose or debug',
        },
      },
    },
    schedules: {
      type: 'object',
      additionalProperties: false,
      expected: 'the schedules section: {"consistencyCheck": "*/5 * * * *", "statsLog": "0 * * * *"}',
      properties: {
        consistencyCheck: {
          type: 'string',
          format: 'cron',
          expected: 'a cron expression (node-cron syntax, e.g. "*/5 * * * *")',
        },
        statsLog: {
          type: 'string',
          format: 'cron',
          expected: 'a cron expression (node-cron syntax, e.g. "0 * * * *")',
        },
      },
    },
    metrics: metricsSchema,
    health: healthSchema,
    helpers: helpersSchema,
  },
} as const;

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
ajv.addFormat('ipv4-cidr', { type: 'string', validate: (s: string) => isCidr(s, true) });
ajv.addFormat('ipv6-cidr', { type: 'string', validate: (s: string) => isCidr(s, false) });
ajv.addFormat('ifname', { type: 'string', validate: isInterfaceName });
// node-cron is required (its CommonJS build, synchronously) for a config that has a schedule
// only: the daemon would otherwise hold it, ~1 MB of heap, for nothing
let cronValidate: ((expression: string) => boolean) | undefined;
ajv.addFormat('cron', {
  type: 'string',
  validate: (s: string) =>
    (cronValidate ??= (createRequire(import.meta.url)('node-cron') as { validate(e: string): boolean }).validate)(s),
});
ajv.addFormat('abs-path', { type: 'string', validate: (s: string) => s.startsWith('/') && !s.includes('\0') });
const validateSchema = ajv.compile(configSchema);

// ----------------------------------------------------------------------------- error messages

/** JSON pointer → `a.b[0].c`. */
export function keyPath(pointer: string): string {
  if (pointer === '') return '';
  let out = '';
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (/^[0-9]+$/.test(seg)) out += `[${seg}]`;
    else if (/^[A-Za-z_$][A-Za-z0-9_$]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}

function join(path: string, key: string): string {
  return path === ''
    ? key
    : /^[A-Za-z_$][A-Za-z0-9_$]*$/.test(key)
      ? `${path}.${key}`
      : `${path}[${JSON.stringify(key)}]`;
}

/** A value as it appears in messages: JSON for scalars, a kind for containers. */
export function show(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return v.length === 0 ? 'an empty list' : 'a list';
  if (typeof v === 'object') return 'an object';
  if (v === undefined) return 'nothing';
  const s = JSON.stringify(v);
  return s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

interface SchemaNode {
  expected?: string;
  properties?: Record<string, SchemaNode>;
  type?: string;
  enum?: readonly unknown[];
  const?: unknown;
}

const UNSUPPORTED_MODE: Record<string, string> = {
  persistent: 'PERSISTENT is the old name of Mode ALARM: write "alarm"',
};

/**
 * The sync settings that only some modes take (as conntrackd's `Mode` blocks), and which. A
 * resolved configuration carries every mode's defaults, so a switch that is off is no problem.
 */
const MODE_ONLY: Record<string, readonly SyncMode[]> = {
  disableExternalCache: ['ftfw', 'notrack'],
  startupResync: ['ftfw', 'notrack'],
  refreshTime: ['alarm'],
  cacheTimeout: ['alarm'],
};

/** A sync setting the configured mode does not take: an error naming the modes that do. */
function modeOptionProblems(root: unknown): KeyedProblem[] {
  if (!isObj(root) || !isObj(root.sync)) return [];
  const sync = root.sync;
  const mode = sync.mode ?? 'ftfw';
  if (mode !== 'ftfw' && mode !== 'notrack' && mode !== 'alarm') return [];
  const out: KeyedProblem[] = [];
  for (const [key, modes] of Object.entries(MODE_ONLY)) {
    if (sync[key] === undefined || sync[key] === false || modes.includes(mode)) continue;
    const names = modes.map((m) => `"${m}"`).join(' or ');
    out.push({ path: `sync.${key}`, message: `only applies to mode ${names}, not "${mode}"; remove it` });
  }
  return out;
}

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
function describe(e: ErrorObject, all: ErrorObject[]): KeyedProblem | undefined {
  const path = keyPath(e.instancePath);
  const parent = (e.parentSchema ?? {}) as SchemaNode;
  const expected = parent.expected;
  const got = `, got ${show(e.data)}`;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = (e.params as { additionalProperty: string }).additionalProperty;
      const allowed = Object.keys(parent.properties ?? {});
      const near = closest(key, allowed);
      return {
        path: join(path, key),
        message: near
          ? `unknown key (did you mean "${near}"?)`
          : `unknown key (expected one of: ${allowed.join(', ')})`,
      };
    }
    case 'required': {
      const key = (e.params as { missingProperty: string }).missingProperty;
      const sub = parent.properties?.[key];
      return { path: join(path, key), message: `is missing${sub?.expected ? `; expected ${sub.expected}` : ''}` };
    }
    case 'discriminator': {
      // A missing or unknown tag is already reported by `required` / the enum on `kind`.
      if (
        all.some(
          (o) =>
            (o.keyword === 'required' && o.instancePath === e.instancePath) ||
            o.instancePath === `${e.instancePath}/kind`,
        )
      )
        return undefined;
      const p = e.params as { tag: string; tagValue: unknown };
      return { path: join(path, p.tag), message: `must be "udp" or "multicast", got ${show(p.tagValue)}` };
    }
    case 'const':
    case 'enum': {
      if (path === 'sync.mode' && typeof e.data === 'string' && UNSUPPORTED_MODE[e.data.toLowerCase()]) {
        return { path, message: UNSUPPORTED_MODE[e.data.toLowerCase()]! };
      }
      const values =
        e.keyword === 'const'
          ? [(e.params as { allowedValue: unknown }).allowedValue]
          : (e.params as { allowedValues: unknown[] }).allowedValues;
      return {
        path,
        message: `must be ${expected ?? `one of ${values.map((v) => JSON.stringify(v)).join(', ')}`}${got}`,
      };
    }
    case 'type':
    case 'format':
    case 'pattern':
    case 'anyOf':
    case 'oneOf':
      return {
        path,
        message: `must be ${expected ?? (e.keyword === 'type' ? `of type ${(e.params as { type: string }).type}` : (e.message ?? 'valid'))}${got}`,
      };
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
      return { path, message: `${e.message ?? 'out of range'}${got}` };
    case 'minItems': {
      const n = (e.params as { limit: number }).limit;
      return {
        path,
        message: `must have at least ${n} ${n === 1 ? 'entry' : 'entries'}${expected ? ` (${expected})` : ''}`,
      };
    }
    case 'maxItems': {
      const n = (e.params as { limit: number }).limit;
      return { path, message: `must have at most ${n} entries, got ${(e.data as unknown[]).length}` };
    }
    case 'minLength':
    case 'maxLength': {
      const n = (e.params as { limit: number }).limit;
      const len = typeof e.data === 'string' ? e.data.length : 0;
      const msg =
        e.keyword === 'minLength'
          ? n === 1
            ? 'must not be empty'
            : `must be at least ${n} characters long`
          : `must be at most ${n} characters long, got ${len}`;
      return { path, message: expected ? `${msg} (expected ${expected})` : msg };
    }
    default:
      return { path, message: `${e.message ?? 'is invalid'}${got}` };
  }
}

/**
 * Turns ajv's errors into one message per real problem. For anyOf: when a branch failed deeper
 * inside the value (e.g. one bad item of a list), only those deeper errors are kept; otherwise
 * the branches' errors are replaced by the anyOf's single "must be <expected>".
 */
function ajvProblems(errors: ErrorObject[]): KeyedProblem[] {
  const dropped = new Set<ErrorObject>();
  for (const e of errors) {
    if (e.keyword !== 'anyOf') continue;
    const branch = errors.filter((o) => o !== e && o.schemaPath.startsWith(`${e.schemaPath}/`));
    const deeper = branch.filter((o) => o.instancePath.length > e.instancePath.length);
    for (const o of branch) if (!deeper.includes(o)) dropped.add(o);
    if (deeper.length > 0) dropped.add(e);
  }
  // Items of a discriminated union: errors inside the chosen branch are enough; ajv adds nothing else.
  const out: KeyedProblem[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (dropped.has(e)) continue;
    const p = describe(e, errors);
    if (!p) continue;
    const k = `${p.path}\0${p.message}`;
    if (seen.has(k)) continue;
    seen.add(k);
    out.push(p);
  }
  return out;
}

// ------------------------------------------------------------------------- semantic checks

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const PROTOCOL_HINTS: Record<string, string> = { icmpv6: 'ipv6-icmp', icmp6: 'ipv6-icmp', ipv6icmp: 'ipv6-icmp' };

// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
function semanticProblems(root: unknown): KeyedProblem[] {
  const out: KeyedProblem[] = [];
  if (!isObj(root)) return out;
  const sync = root.sync;
  if (isObj(sync) && Array.isArray(sync.channels)) {
    const chans = sync.channels;
    const first = chans.find(isObj);
    const kind0 = first && typeof first.kind === 'string' ? first.kind : undefined;
    const i0 = first ? chans.indexOf(first) : -1;
    const defaults: number[] = [];
    chans.forEach((c, i) => {
      if (!isObj(c)) return;
      const at = `sync.channels[${i}]`;
      if (c.default === true) defaults.push(i);
      if (
        kind0 &&
        typeof c.kind === 'string' &&
        (c.kind === 'udp' || c.kind === 'multicast' || c.kind === 'tcp') &&
        c.kind !== kind0
      ) {
        out.push({
          path: `${at}.kind`,
          message: `must be "${kind0}" like sync.channels[${i0}] (all links of a config use one transport), got "${c.kind}"`,
        });
      }
      if (c.kind === 'tcp' && c.checksum === false)
        out.push({ path: `${at}.checksum`, message: 'must be true: TCP always carries its checksum (remove it)' });
      if (c.kind === 'udp' || c.kind === 'tcp') {
        const has4 = c.ipv4Address !== undefined;
        const has6 = c.ipv6Address !== undefined;
        if (has4 && has6) out.push({ path: at, message: 'must have ipv4Address or ipv6Address, not both' });
        const dest = c.destination;
        if (typeof dest === 'string') {
          if (has4 && !has6 && typeof c.ipv4Address === 'string' && isIPv6(dest))
            out.push({
              path: `${at}.destination`,
              message: `must be an IPv4 address like ipv4Address, got ${show(dest)}`,
            });
          if (has6 && !has4 && typeof c.ipv6Address === 'string' && isIPv4(dest))
            out.push({
              path: `${at}.destination`,
              message: `must be an IPv6 address like ipv6Address, got ${show(dest)}`,
            });
        }
      } else if (c.kind === 'multicast') {
        const g = c.group;
        if (typeof g === 'string' && (isIPv4(g) || isIPv6(g)) && !isMulticast(g)) {
          out.push({
            path: `${at}.group`,
            message: `must be a multicast address (224.0.0.0/4 or ff00::/8), got ${show(g)}`,
          });
        }
        if (typeof g === 'string' && isIPv6(g) && c.ipv4Interface !== undefined) {
          out.push({
            path: `${at}.ipv4Interface`,
            message: 'only applies to an IPv4 group (IPv6 groups use the interface index of "interface")',
          });
        }
      }
    });
    const tcpAt = chans.findIndex((c) => isObj(c) && c.kind === 'tcp');
    if (tcpAt >= 0 && sync.authentication !== undefined)
      out.push({
        path: 'sync.authentication',
        message:
          'applies to UDP and Multicast channels only (its trailer ends a datagram; a TCP stream has none): remove it or use a UDP channel',
        related: `sync.channels[${tcpAt}]`,
      });
    if (defaults.length > 1) {
      out.push({
        path: 'sync.channels',
        message: `at most one channel may be "default", got ${defaults.length} (${defaults.map((i) => `[${i}]`).join(', ')})`,
      });
    }
  }
  const general = root.general;
  const filter = isObj(general) ? general.filter : undefined;
  const protocol = isObj(filter) ? filter.protocol : undefined;
  if (isObj(protocol) && Array.isArray(protocol.protocols)) {
    protocol.protocols.forEach((p, i) => {
      if (typeof p !== 'string' || p === '' || protocolByNameLoose(p) !== undefined) return;
      const hint = PROTOCOL_HINTS[p.toLowerCase()] ?? closest(p, PROTOCOL_NAMES);
      out.push({
        path: `general.filter.protocol.protocols[${i}]`,
        message: `unknown protocol name ${show(p)}${hint ? ` (did you mean "${hint}"?)` : ' (not in /etc/protocols)'}`,
      });
    });
  }
  return out;
}

// --------------------------------------------------------------------------------- public API

/** Every problem of `value` as a native config, with key paths; empty if it is valid. */
export function checkConfig(value: unknown): KeyedProblem[] {
  const ok = validateSchema(value);
  const problems = ok ? [] : ajvProblems(validateSchema.errors ?? []);
  const seen = new Set(problems.map((p) => `${p.path}\0${p.message}`));
  for (const p of [
    ...semanticProblems(value),
    ...modeOptionProblems(value),
    ...checkHaConfig(value),
    ...authProblems(value),
    ...checkHelpers(value),
    ...unsupportedSettings(value),
  ])
    if (!seen.has(`${p.path}\0${p.message}`)) problems.push(p);
  return problems;
}

/** `message`, plus where the related key is, for the JSON config. */
export function keyedMessage(p: KeyedProblem): string {
  return p.related ? `${p.message} (first at ${p.related})` : p.message;
}

/** Returns `value` typed as a config input if valid; throws a ConfigError listing every problem. */
export function validateConfig(value: unknown, source: string): CtsyncConfigInput {
  const problems = checkConfig(value);
  if (problems.length > 0)
    throw new ConfigError(problems.map((p): ConfigProblem => ({ source, path: p.path, message: keyedMessage(p) })));
  return value as CtsyncConfigInput;
}

/** Things that are valid but probably not what was meant (resolved config). */
export function lintConfig(config: CtsyncConfig): KeyedProblem[] {
  const out: KeyedProblem[] = [];
  const s = config.sync;
  if (s.disableExternalCache && s.commitTimeout !== undefined) {
    out.push({
      path: 'sync.commitTimeout',
      message: 'is ignored when disableExternalCache is on (received entries go straight into the kernel)',
    });
  }
  out.push(...authWarnings(s.authentication));
  const seenLinks = new Map<string, number>();
  s.channels.forEach((c, i) => {
    const key = c.kind === 'multicast' ? `${c.group}|${c.port}` : `${c.ipv4Address ?? c.ipv6Address}|${c.port}`;
    const prev = seenLinks.get(key);
    if (prev !== undefined)
      out.push({
        path: `sync.channels[${i}]`,
        message: `uses the same ${c.kind === 'multicast' ? 'group and port' : 'local address and port'} as an earlier link; use distinct ones per link`,
        related: `sync.channels[${prev}]`,
      });
    else seenLinks.set(key, i);
  });
  const exp = s.options.expectationSync;
  if (Array.isArray(exp))
    dupes(
      exp.map((x) => x.toLowerCase()),
      'sync.options.expectationSync',
      out,
    );
  const f = config.general.filter;
  if (f.protocol) dupes(f.protocol.protocols, 'general.filter.protocol.protocols', out);
  if (f.address) {
    dupes(f.address.ipv4, 'general.filter.address.ipv4', out);
    dupes(f.address.ipv6, 'general.filter.address.ipv6', out);
  }
  if (f.state) dupes(f.state.tcpStates, 'general.filter.state.tcpStates', out);
  return out;
}

function dupes(list: readonly unknown[], path: string, out: KeyedProblem[]): void {
  const seen = new Map<unknown, number>();
  list.forEach((v, i) => {
    const prev = seen.get(v);
    if (prev !== undefined)
      out.push({
        path: `${path}[${i}]`,
        message: `repeats an earlier entry (${show(v)})`,
        related: `${path}[${prev}]`,
      });
    else seen.set(v, i);
  });
}
