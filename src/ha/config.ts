// Configuration of the failover layer: the `ha` and `hooks` sections of ctsync.json.
//
// This module owns the two sections (src/config/schema.ts leaves them open as `ha: {}` and
// `hooks: {}`): it exports their JSON Schema fragments, written for the ajv instance of
// src/config/schema.ts (same `expected` keyword, same formats: ip, ipv4-cidr, ipv6-cidr, ifname,
// abs-path), the checks a schema cannot express, and the resolved (defaults applied) types that
// src/ha/* consume. Wiring: put `haSchema` / `hooksSchema` under configSchema.properties, add
// `checkHaConfig(root)` to the semantic checks, and `resolveHaConfig(input.ha, input.hooks)` to
// the model.
//
//   {
//     "ha": {
//       "track": { "groups": ["G1"] },                 // or { "instances": ["VI_1", "VI_2"] }
//       "fifo": { "path": "/run/keepalived/ctsync.fifo", "create": true },
//       "guard": { "enabled": true, "virtualAddresses": ["192.0.2.1"], "maxHoldMs": 2000 },
//       "initialRole": "backup"
//     },
//     "hooks": { "prePromote": "/etc/ctsync/pre-promote", "timeoutMs": 10000, "onPreHookFailure": "continue" }
//   }

/** Which keepalived VRRP instances or sync groups this node follows (see keepalived.ts). */
export interface HaTrackConfig {
  /** vrrp_sync_group names. When given, only GROUP events count (instance events are ignored). */
  groups?: string[];
  /** vrrp_instance names. The node is active only while ALL of them are MASTER. */
  instances?: string[];
}

export interface GuardConfig {
  /** Install the nftables traffic guard during promotion (docs/conntrackd-compat.md §3.1). Default false. */
  enabled: boolean;
  /** Packets whose destination is one of these addresses are dropped while the guard holds. */
  virtualAddresses: string[];
  /**
   * Packets arriving on these interfaces are dropped while the guard holds (for forwarded traffic:
   * on a gateway, the VIP is the next hop, not the destination, of the flows to protect).
   */
  interfaces: string[];
  /** Source addresses or networks never held (management hosts, the peer). */
  exemptSources: string[];
  /** The longest the guard may hold traffic; enforced by a timer and by the kernel (set element timeouts). Default 2000. */
  maxHoldMs: number;
}

/**
 * Commit on demand during a promotion's commit (NFQUEUE; src/daemon/on-demand.ts): packets of
 * flows not committed yet wait for their one entry instead of being dropped. On by default;
 * where it cannot start (no NFQUEUE, no iptables) the guard, if enabled, holds instead.
 */
export interface OnDemandConfig {
  enabled: boolean;
  /** nfnetlink_queue number. Default 3780. */
  queue: number;
  /** Packet bytes copied to ctsync (the headers). Default 128. */
  copyRange: number;
  /** Packets the kernel queues at most; beyond, it accepts them unchanged. Default 4096. */
  maxQueueLength: number;
  /** The longest a packet waits for its lookup; then accepted unchanged. Default 100. */
  maxWaitMs: number;
  /** Entries committed on demand per second at most; beyond, packets are accepted unchanged. Default 50000. */
  maxCommitsPerSecond: number;
  /** The longest the queue stays bound (a timer unbinds it if the commit hangs). Default 30000. */
  maxHoldMs: number;
}

/** A hook command: an absolute path with optional arguments, split like a shell would but run without one. */
export type HookCommand = string | string[];

export interface HooksConfig {
  prePromote?: HookCommand;
  postPromote?: HookCommand;
  preDemote?: HookCommand;
  postDemote?: HookCommand;
  /** Kill a hook (its whole process group) after this long. Default 10000. */
  timeoutMs: number;
  /** A failing pre-hook aborts the transition or is only reported. Default 'continue'. */
  onPreHookFailure: 'abort' | 'continue';
}

export interface FifoConfig {
  /** keepalived's (vrrp_)notify_fifo path. */
  path: string;
  /** mkfifo the path when it is missing (keepalived then reuses it and never unlinks it). Default true. */
  create: boolean;
}

/** The resolved `ha` + `hooks` sections. */
export interface HaConfig {
  track: HaTrackConfig;
  fifo?: FifoConfig;
  guard: GuardConfig;
  onDemand: OnDemandConfig;
  hooks: HooksConfig;
  /** Enter this role at start-up, before keepalived says anything. Default: stay `starting`. */
  initialRole?: 'backup';
  /** CTSYNC_NODE for hooks. Default: the host name. */
  node?: string;
  /** Transitions kept in the status history. Default 32. */
  historySize: number;
  /** A step (commit, flush...) that has not finished after this long counts as failed. Default 120000. */
  stepTimeoutMs: number;
}

/** What may be written in the file (everything with a default is optional). */
export interface HaConfigInput {
  track: HaTrackConfig;
  fifo?: { path: string; create?: boolean };
  guard?: Partial<GuardConfig>;
  onDemand?: Partial<OnDemandConfig>;
  initialRole?: 'backup';
  node?: string;
  historySize?: number;
  stepTimeoutMs?: number;
}

export type HooksConfigInput = Partial<HooksConfig>;

export const HA_DEFAULTS = {
  maxHoldMs: 2000,
  hookTimeoutMs: 10_000,
  onPreHookFailure: 'continue' as const,
  fifoCreate: true,
  historySize: 32,
  stepTimeoutMs: 120_000,
  onDemand: {
    // off until the whole suite has run with it on: armed at start-up it cut the lab's failover gap
    // (100k flows) from about 0.7 s to 0.13-0.19 s (docs/conntrackd-compat.md §3.1)
    enabled: false,
    queue: 3780,
    copyRange: 128,
    maxQueueLength: 4096,
    maxWaitMs: 100,
    maxCommitsPerSecond: 50_000,
    maxHoldMs: 30_000,
  },
};

// ------------------------------------------------------------------------------------ schema

const INT_MAX = 2147483647;
/** keepalived names: one config token; the FIFO quotes them, so no '"' and no white space. */
const vrrpName = {
  type: 'string',
  minLength: 1,
  maxLength: 255,
  pattern: '^[^\\s"]+$',
  expected: 'a keepalived vrrp_instance or vrrp_sync_group name (no spaces or quotes)',
};
const nameList = (what: string) => ({
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: vrrpName,
  expected: `a non-empty list of ${what} names`,
});
const ms = (min: number, max: number, what: string) => ({
  type: 'integer',
  minimum: min,
  maximum: max,
  expected: `${what} in milliseconds (${min} to ${max})`,
});
const absPath = {
  type: 'string',
  format: 'abs-path',
  maxLength: 4096,
  expected: 'an absolute path (starting with "/")',
};
const hookCommand = {
  anyOf: [
    { type: 'string', pattern: '^/', minLength: 2 },
    // the first item's absolute path is checked by checkHaConfig (strict ajv refuses open tuples)
    { type: 'array', minItems: 1, items: { type: 'string' } },
  ],
  expected: 'an absolute path with optional arguments ("/etc/ctsync/hook arg"), or a list ["/path", "arg"...]',
};

/** Schema of the `ha` section (for configSchema.properties.ha). */
export const haSchema = {
  type: 'object',
  required: ['track'],
  additionalProperties: false,
  expected: 'the ha section (an object with at least "track")',
  properties: {
    track: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      expected: 'which keepalived sync groups or instances to follow: {"groups": [...]} or {"instances": [...]}',
      properties: {
        groups: nameList('vrrp_sync_group'),
        instances: nameList('vrrp_instance'),
      },
    },
    fifo: {
      type: 'object',
      required: ['path'],
      additionalProperties: false,
      expected: 'the notify FIFO: {"path": "/run/...", "create": true}',
      properties: {
        path: absPath,
        create: { type: 'boolean', expected: 'true or false' },
      },
    },
    guard: {
      type: 'object',
      additionalProperties: false,
      expected: 'the traffic guard: {"enabled": true, "virtualAddresses": [...], "maxHoldMs": 2000}',
      properties: {
        enabled: { type: 'boolean', expected: 'true or false' },
        virtualAddresses: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', format: 'ip', expected: 'an IPv4 or IPv6 address (a VIP)' },
          expected: 'a list of virtual IP addresses',
        },
        interfaces: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', format: 'ifname', expected: 'a network interface name such as "eth1"' },
          expected: 'a list of interface names',
        },
        exemptSources: {
          type: 'array',
          items: {
            anyOf: [
              { type: 'string', format: 'ipv4-cidr' },
              { type: 'string', format: 'ipv6-cidr' },
            ],
            expected: 'an address or network such as "198.51.100.0/24"',
          },
          expected: 'a list of source addresses or networks',
        },
        maxHoldMs: ms(50, 60_000, 'the longest traffic may be held'),
      },
    },
    initialRole: { const: 'backup', expected: '"backup"' },
    node: { type: 'string', minLength: 1, maxLength: 255, expected: 'a node name for hooks (CTSYNC_NODE)' },
    onDemand: {
      type: 'object',
      additionalProperties: false,
      expected: 'commit on demand: {"enabled": true, "queue": 3780, "maxQueueLength": 4096, ...}',
      properties: {
        enabled: { type: 'boolean', expected: 'true or false' },
        queue: { type: 'integer', minimum: 0, maximum: 65535, expected: 'a queue number (0 to 65535)' },
        copyRange: { type: 'integer', minimum: 64, maximum: 65535, expected: 'a number of bytes (64 to 65535)' },
        maxQueueLength: {
          type: 'integer',
          minimum: 1,
          maximum: 1_000_000,
          expected: 'a number of packets (1 to 1000000)',
        },
        maxWaitMs: ms(1, 60_000, 'the longest a queued packet waits for its lookup'),
        maxCommitsPerSecond: {
          type: 'integer',
          minimum: 1,
          maximum: 10_000_000,
          expected: 'a number of entries per second (1 to 10000000)',
        },
        maxHoldMs: ms(50, INT_MAX, 'the longest the queue stays bound'),
      },
    },
    historySize: { type: 'integer', minimum: 1, maximum: 10_000, expected: 'a number of transitions (1 to 10000)' },
    stepTimeoutMs: ms(100, INT_MAX, 'the longest one failover step may take'),
  },
} as const;

/** Schema of the `hooks` section (for configSchema.properties.hooks). */
export const hooksSchema = {
  type: 'object',
  additionalProperties: false,
  expected: 'the hooks section (an object)',
  properties: {
    prePromote: hookCommand,
    postPromote: hookCommand,
    preDemote: hookCommand,
    postDemote: hookCommand,
    timeoutMs: ms(100, 3_600_000, 'the longest a hook may run'),
    onPreHookFailure: { enum: ['abort', 'continue'], expected: '"abort" or "continue"' },
  },
} as const;

// ---------------------------------------------------------------------------- semantic checks

/** Same shape as src/config/schema.ts's KeyedProblem. */
export interface HaProblem {
  path: string;
  message: string;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** What the schema cannot say, on the whole (unvalidated) config root; empty if fine. */
export function checkHaConfig(root: unknown): HaProblem[] {
  const out: HaProblem[] = [];
  if (!isObj(root)) return out;
  const hooks = root.hooks;
  if (isObj(hooks)) {
    for (const k of ['prePromote', 'postPromote', 'preDemote', 'postDemote']) {
      const v = hooks[k];
      if (Array.isArray(v) && typeof v[0] === 'string' && !v[0].startsWith('/')) {
        out.push({
          path: `hooks.${k}[0]`,
          message: `must be an absolute path (the program to run), got ${JSON.stringify(v[0])}`,
        });
      }
    }
  }
  const ha = root.ha;
  if (!isObj(ha)) return out;
  const track = ha.track;
  if (
    isObj(track) &&
    Array.isArray(track.groups) &&
    Array.isArray(track.instances) &&
    track.groups.length > 0 &&
    track.instances.length > 0
  ) {
    out.push({
      path: 'ha.track',
      message:
        "must list groups or instances, not both (with a sync group only GROUP events count; attach ctsync to the group, as conntrackd's reference config does)",
    });
  }
  const guard = ha.guard;
  if (isObj(guard) && guard.enabled === true) {
    const vips = Array.isArray(guard.virtualAddresses) ? guard.virtualAddresses.length : 0;
    const ifs = Array.isArray(guard.interfaces) ? guard.interfaces.length : 0;
    if (vips + ifs === 0)
      out.push({
        path: 'ha.guard.virtualAddresses',
        message: 'is empty; an enabled guard needs virtualAddresses or interfaces to hold',
      });
  }
  return out;
}

// ---------------------------------------------------------------------------------- resolve

/** Applies the defaults. `ha` must have passed the schema. */
export function resolveHaConfig(ha: HaConfigInput, hooks: HooksConfigInput = {}): HaConfig {
  const g = ha.guard ?? {};
  const out: HaConfig = {
    track: {
      ...(ha.track.groups ? { groups: [...ha.track.groups] } : {}),
      ...(ha.track.instances ? { instances: [...ha.track.instances] } : {}),
    },
    guard: {
      enabled: g.enabled ?? false,
      virtualAddresses: [...(g.virtualAddresses ?? [])],
      interfaces: [...(g.interfaces ?? [])],
      exemptSources: [...(g.exemptSources ?? [])],
      maxHoldMs: g.maxHoldMs ?? HA_DEFAULTS.maxHoldMs,
    },
    onDemand: { ...HA_DEFAULTS.onDemand, ...ha.onDemand },
    hooks: {
      ...(hooks.prePromote !== undefined ? { prePromote: hooks.prePromote } : {}),
      ...(hooks.postPromote !== undefined ? { postPromote: hooks.postPromote } : {}),
      ...(hooks.preDemote !== undefined ? { preDemote: hooks.preDemote } : {}),
      ...(hooks.postDemote !== undefined ? { postDemote: hooks.postDemote } : {}),
      timeoutMs: hooks.timeoutMs ?? HA_DEFAULTS.hookTimeoutMs,
      onPreHookFailure: hooks.onPreHookFailure ?? HA_DEFAULTS.onPreHookFailure,
    },
    historySize: ha.historySize ?? HA_DEFAULTS.historySize,
    stepTimeoutMs: ha.stepTimeoutMs ?? HA_DEFAULTS.stepTimeoutMs,
  };
  if (ha.fifo) out.fifo = { path: ha.fifo.path, create: ha.fifo.create ?? HA_DEFAULTS.fifoCreate };
  if (ha.initialRole) out.initialRole = ha.initialRole;
  if (ha.node) out.node = ha.node;
  return out;
}
