// conntrackd's user-space conntrack helpers (the `Helper` section, docs/conntrackd-compat.md §1.7):
// which helpers conntrackd 1.4.7 ships and for which protocol, the limits a helper's settings
// have, the JSON schema of the `helpers` list and the checks a schema cannot express.
//
// The catalogue was checked against the real conntrackd 1.4.7 (Debian 12): it loads
// ct_helper_<name>.so and refuses a name/protocol pair it has no helper for ("Unknown `x'
// helper"); each helper has one expectation policy, named like the helper.
import type { KeyedProblem } from './schema.js';

export type HelperFamily = 'inet' | 'inet6';
export type HelperProtocol = 'tcp' | 'udp';

/** `Policy <name> { ExpectMax n; ExpectTimeout s }`: the helper's one expectation policy. */
export interface HelperPolicy {
  expectMax: number;
  expectTimeout: number;
}

/** `Type <name> <family> <protocol> { QueueNum n; QueueLen n; Policy … }`. */
export interface HelperConfig {
  name: string;
  family: HelperFamily;
  protocol: HelperProtocol;
  /** The NFQUEUE number the helper reads packets from (conntrackd: 0 when not given). */
  queueNum: number;
  /** Most packets the queue holds; absent (conntrackd: 0) = the kernel's default. */
  queueLen?: number;
  /** Absent: the helper's built-in policy. */
  policy?: HelperPolicy;
}

/** A helper of conntrackd 1.4.7: its protocols, and what its expectations make work. */
export interface KnownHelper {
  protocols: readonly HelperProtocol[];
  /** What connections need it, for the warning that says what will not work without it. */
  purpose: string;
}

export const KNOWN_HELPERS: Readonly<Record<string, KnownHelper>> = {
  amanda: { protocols: ['udp'], purpose: 'the data connections of Amanda backups' },
  dhcpv6: { protocols: ['udp'], purpose: "DHCPv6 servers' replies to multicast requests" },
  ftp: { protocols: ['tcp'], purpose: 'FTP data connections' },
  mdns: { protocols: ['udp'], purpose: 'unicast replies to mDNS queries' },
  rpc: { protocols: ['tcp', 'udp'], purpose: 'Sun RPC services whose ports the portmapper announces (NFS, mountd, …)' },
  sane: { protocols: ['tcp'], purpose: 'SANE scanner data connections' },
  slp: { protocols: ['udp'], purpose: 'unicast replies to SLP multicast requests' },
  ssdp: { protocols: ['tcp', 'udp'], purpose: 'UPnP (SSDP) replies and event subscriptions' },
  tftp: { protocols: ['udp'], purpose: 'TFTP transfers' },
  tns: { protocols: ['tcp'], purpose: 'Oracle TNS connections redirected to another port' },
};

export const HELPER_NAMES: readonly string[] = Object.keys(KNOWN_HELPERS);

/** NFQUEUE numbers are 16 bits. */
export const QUEUE_NUM_MAX = 65535;
/** The kernel refuses a helper policy allowing more expectations per connection (NF_CT_EXPECT_MAX_CNT). */
export const EXPECT_MAX_LIMIT = 255;
const INT_MAX = 2147483647;

/** How a helper is written in conntrackd.conf, for messages: `Type rpc inet tcp`. */
export function helperLabel(h: Pick<HelperConfig, 'name' | 'family' | 'protocol'>): string {
  return `Type ${h.name} ${h.family} ${h.protocol}`;
}

const policySchema = {
  type: 'object',
  required: ['expectMax', 'expectTimeout'],
  additionalProperties: false,
  expected: 'the helper\'s expectation policy: {"expectMax": 1, "expectTimeout": 300}',
  properties: {
    expectMax: {
      type: 'integer',
      minimum: 1,
      maximum: EXPECT_MAX_LIMIT,
      expected: `the most expectations per connection (1 to ${EXPECT_MAX_LIMIT}, the kernel's limit)`,
    },
    expectTimeout: {
      type: 'integer',
      minimum: 1,
      maximum: INT_MAX,
      expected: `seconds an expectation lives (1 to ${INT_MAX})`,
    },
  },
};

/** The `helpers` list of the JSON configuration. */
export const helpersSchema = {
  type: 'array',
  expected: 'a list of user-space helpers ({"name": "rpc", "family": "inet", "protocol": "tcp", "queueNum": 3})',
  items: {
    type: 'object',
    required: ['name', 'family', 'protocol', 'queueNum'],
    additionalProperties: false,
    properties: {
      name: { enum: HELPER_NAMES, expected: `one of conntrackd's helpers: ${HELPER_NAMES.join(', ')}` },
      family: { enum: ['inet', 'inet6'], expected: '"inet" or "inet6"' },
      protocol: { enum: ['tcp', 'udp'], expected: '"tcp" or "udp"' },
      queueNum: {
        type: 'integer',
        minimum: 0,
        maximum: QUEUE_NUM_MAX,
        expected: `an NFQUEUE number (0 to ${QUEUE_NUM_MAX})`,
      },
      queueLen: {
        type: 'integer',
        minimum: 1,
        maximum: INT_MAX,
        expected: `the most packets the queue holds (1 to ${INT_MAX})`,
      },
      policy: policySchema,
    },
  },
} as const;

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * What the schema cannot say about `helpers`: a helper for a protocol conntrackd has none for,
 * the same helper twice, two helpers on one queue.
 */
export function checkHelpers(root: unknown): KeyedProblem[] {
  const out: KeyedProblem[] = [];
  if (!isObj(root) || !Array.isArray(root.helpers)) return out;
  const types = new Map<string, number>();
  const queues = new Map<number, number>();
  root.helpers.forEach((h, i) => {
    if (!isObj(h)) return;
    const at = `helpers[${i}]`;
    const known = typeof h.name === 'string' ? KNOWN_HELPERS[h.name] : undefined;
    if (known && typeof h.protocol === 'string' && !known.protocols.includes(h.protocol as HelperProtocol))
      out.push({
        path: `${at}.protocol`,
        message: `must be ${known.protocols.map((p) => `"${p}"`).join(' or ')} (conntrackd's ${String(h.name)} helper has no other), got "${h.protocol}"`,
      });
    const type = `${String(h.name)} ${String(h.family)} ${String(h.protocol)}`;
    const prevType = types.get(type);
    if (prevType !== undefined)
      out.push({ path: at, message: 'repeats an earlier helper: remove one', related: `helpers[${prevType}]` });
    else types.set(type, i);
    if (typeof h.queueNum === 'number') {
      const prevQueue = queues.get(h.queueNum);
      if (prevQueue !== undefined)
        out.push({
          path: `${at}.queueNum`,
          message: `is already used by another helper (each helper reads its own queue): choose another number`,
          related: `helpers[${prevQueue}].queueNum`,
        });
      else queues.set(h.queueNum, i);
    }
  });
  return out;
}
