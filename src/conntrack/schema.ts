// JSON Schema of an Entry (what `ct list --json` prints and `ct load` reads), validated with ajv so
// a bad line is reported with the path of the bad field, before anything reaches the kernel.
import { Ajv, type ErrorObject } from 'ajv';
import type { Entry } from './entry.js';

const u8 = { type: 'integer', minimum: 0, maximum: 255 };
const u16 = { type: 'integer', minimum: 0, maximum: 65535 };
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 };
const ip = { type: 'string', minLength: 2, maxLength: 45 };
const hexString = { type: 'string', pattern: '^([0-9a-f]{2})*$' };
const decimal = { type: 'string', pattern: '^[0-9]{1,20}$' };
const counters = { type: 'object', required: ['packets', 'bytes'], additionalProperties: false, properties: { packets: { type: 'integer', minimum: 0 }, bytes: { type: 'integer', minimum: 0 } } };
const seqAdj = { type: 'object', required: ['correctionPos', 'offsetBefore', 'offsetAfter'], additionalProperties: false, properties: { correctionPos: u32, offsetBefore: u32, offsetAfter: u32 } };
const natRange = { type: 'object', additionalProperties: false, properties: { minIp: ip, maxIp: ip, minPort: u16, maxPort: u16 } };
const rawAttr = { type: 'object', required: ['type', 'data'], additionalProperties: false, properties: { type: u16, data: hexString, path: { type: 'string' } } };

export const tupleSchema = {
  type: 'object',
  required: ['src', 'dst', 'proto'],
  additionalProperties: false,
  properties: {
    src: ip, dst: ip, proto: u8, sport: u16, dport: u16, icmpType: u8, icmpCode: u8, icmpId: u16, zone: u16,
  },
} as const;

export const entrySchema = {
  $id: 'https://ctsync.dev/schema/entry.json',
  type: 'object',
  required: ['family', 'orig'],
  additionalProperties: false,
  properties: {
    family: { enum: [2, 10] },
    orig: tupleSchema,
    reply: tupleSchema,
    master: tupleSchema,
    status: u32,
    timeout: u32,
    mark: u32,
    zone: u16,
    use: u32,
    id: u32,
    secmark: u32,
    secctx: { type: 'string' },
    helper: { type: 'string', maxLength: 15 },
    labels: hexString,
    labelsMask: hexString,
    tcp: {
      type: 'object', additionalProperties: false,
      properties: { state: u8, wscaleOrig: u8, wscaleReply: u8, flagsOrig: u8, maskOrig: u8, flagsReply: u8, maskReply: u8 },
    },
    sctp: { type: 'object', additionalProperties: false, properties: { state: u8, vtagOrig: u32, vtagReply: u32 } },
    dccp: { type: 'object', additionalProperties: false, properties: { state: u8, role: u8, handshakeSeq: decimal } },
    natSrc: natRange,
    natDst: natRange,
    seqAdjOrig: seqAdj,
    seqAdjReply: seqAdj,
    countersOrig: counters,
    countersReply: counters,
    timestampStart: decimal,
    timestampStop: decimal,
    synproxy: { type: 'object', required: ['isn', 'its', 'tsoff'], additionalProperties: false, properties: { isn: u32, its: u32, tsoff: u32 } },
    unknown: { type: 'array', items: rawAttr },
  },
} as const;

const ajv = new Ajv({ allErrors: false });
const validate = ajv.compile<Entry>(entrySchema);

function describe(err: ErrorObject): string {
  const where = err.instancePath ? err.instancePath.slice(1).replaceAll('/', '.') : 'entry';
  if (err.keyword === 'additionalProperties') return `${where}: unknown field '${(err.params as { additionalProperty: string }).additionalProperty}'`;
  if (err.keyword === 'required') return `${where}: missing field '${(err.params as { missingProperty: string }).missingProperty}'`;
  if (err.keyword === 'enum') return `${where}: must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${where}: ${err.message ?? 'invalid'}`;
}

function familyMismatch(t: { src: string; dst: string } | undefined, v6: boolean): boolean {
  return t !== undefined && (t.src.includes(':') !== v6 || t.dst.includes(':') !== v6);
}

/** Returns the entry if `value` is a valid Entry, else throws an Error naming the bad field. */
export function checkEntry(value: unknown): Entry {
  if (!validate(value)) throw new Error(describe(validate.errors![0]));
  const e = value;
  const v6 = e.family === 10;
  // the address text must match the family: a v4 address in a v6 entry can't be encoded
  const bad = familyMismatch(e.orig, v6) ? 'orig' : familyMismatch(e.reply, v6) ? 'reply' : familyMismatch(e.master, v6) ? 'master' : '';
  if (bad) throw new Error(`${bad}: address family does not match family ${e.family} (${v6 ? 'ipv6' : 'ipv4'})`);
  return e;
}
