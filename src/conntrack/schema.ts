// JSON Schemas of an Entry (what `ct list --json` prints and `ct load` reads) and of an Expect
// (`ct expect list --json` / `ct expect load`), validated with ajv so a bad line is reported with
// the path of the bad field, before anything reaches the kernel.
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import type { Entry, Expect, Tuple } from './entry.js';

const u8 = { type: 'integer', minimum: 0, maximum: 255 };
const u16 = { type: 'integer', minimum: 0, maximum: 65535 };
const u32 = { type: 'integer', minimum: 0, maximum: 4294967295 };
const ip = { type: 'string', minLength: 2, maxLength: 45 };
const hexString = { type: 'string', pattern: '^([0-9a-f]{2})*$' };
const decimal = { type: 'string', pattern: '^[0-9]{1,20}$' };
const counters = {
  type: 'object',
  required: ['packets', 'bytes'],
  additionalProperties: false,
  properties: { packets: { type: 'integer', minimum: 0 }, bytes: { type: 'integer', minimum: 0 } },
};
const seqAdj = {
  type: 'object',
  required: ['correctionPos', 'offsetBefore', 'offsetAfter'],
  additionalProperties: false,
  properties: { correctionPos: u32, offsetBefore: u32, offsetAfter: u32 },
};
const natRange = {
  type: 'object',
  additionalProperties: false,
  properties: { minIp: ip, maxIp: ip, minPort: u16, maxPort: u16 },
};
const rawAttr = {
  type: 'object',
  required: ['type', 'data'],
  additionalProperties: false,
  properties: { type: u16, data: hexString, path: { type: 'string' } },
};

export const tupleSchema = {
  type: 'object',
  required: ['src', 'dst', 'proto'],
  additionalProperties: false,
  properties: {
    src: ip,
    dst: ip,
    proto: u8,
    sport: u16,
    dport: u16,
    icmpType: u8,
    icmpCode: u8,
    icmpId: u16,
    zone: u16,
  },
} as const;

export const entrySchema = {
  $id: 'urn:ctsync:schema:entry',
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
      type: 'object',
      additionalProperties: false,
      properties: {
        state: u8,
        wscaleOrig: u8,
        wscaleReply: u8,
        flagsOrig: u8,
        maskOrig: u8,
        flagsReply: u8,
        maskReply: u8,
      },
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
    synproxy: {
      type: 'object',
      required: ['isn', 'its', 'tsoff'],
      additionalProperties: false,
      properties: { isn: u32, its: u32, tsoff: u32 },
    },
    unknown: { type: 'array', items: rawAttr },
  },
} as const;

/**
 * The mask of an expectation: the kernel only uses its source address and source port (ICMP: id),
 * so only the source address is required; checkExpect fills in the rest as the kernel dumps it.
 */
const maskSchema = { ...tupleSchema, required: ['src'] } as const;
/** The NAT tuple of an expectation: saved source address and port; the rest is dumped as zero. */
const natTupleSchema = { ...tupleSchema, required: ['src', 'proto'] } as const;

export const expectSchema = {
  $id: 'urn:ctsync:schema:expect',
  type: 'object',
  required: ['family', 'master', 'tuple', 'mask'],
  additionalProperties: false,
  properties: {
    family: { enum: [2, 10] },
    master: tupleSchema,
    tuple: tupleSchema,
    mask: maskSchema,
    timeout: u32,
    id: u32,
    helper: { type: 'string', minLength: 1, maxLength: 15 },
    zone: u16,
    flags: u32,
    class: u32,
    natDir: { enum: [0, 1] },
    natTuple: natTupleSchema,
    fn: { type: 'string', minLength: 1, maxLength: 63 },
    unknown: { type: 'array', items: rawAttr },
  },
} as const;

const ajv = new Ajv({ allErrors: false });
const validate = ajv.compile<Entry>(entrySchema);
// compiled on first use: `ct load` of entries should not pay for it
let validateExpect: ValidateFunction<Expect> | undefined;

function describe(err: ErrorObject, what = 'entry'): string {
  const where = err.instancePath ? err.instancePath.slice(1).replaceAll('/', '.') : what;
  if (err.keyword === 'additionalProperties')
    return `${where}: unknown field '${(err.params as { additionalProperty: string }).additionalProperty}'`;
  if (err.keyword === 'required')
    return `${where}: missing field '${(err.params as { missingProperty: string }).missingProperty}'`;
  if (err.keyword === 'enum')
    return `${where}: must be one of ${(err.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
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
  const bad = familyMismatch(e.orig, v6)
    ? 'orig'
    : familyMismatch(e.reply, v6)
      ? 'reply'
      : familyMismatch(e.master, v6)
        ? 'master'
        : '';
  if (bad) throw new Error(`${bad}: address family does not match family ${e.family} (${v6 ? 'ipv6' : 'ipv4'})`);
  return e;
}

const allOnes = (v6: boolean): string => (v6 ? 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' : '255.255.255.255');
const anyAddr = (v6: boolean): string => (v6 ? '::' : '0.0.0.0');

/**
 * Returns the expectation if `value` is a valid Expect, else throws an Error naming the bad field.
 * A mask given with only its source part (all the kernel uses) is completed the way the kernel
 * dumps it: destination all-ones, the tuple's protocol; a NAT tuple without a destination gets
 * the zero address. The input is not modified.
 */
export function checkExpect(value: unknown): Expect {
  validateExpect ??= ajv.compile<Expect>(expectSchema);
  if (!validateExpect(value)) throw new Error(describe(validateExpect.errors![0], 'expectation'));
  const x = value;
  const v6 = x.family === 10;
  const m = x.mask as Partial<Tuple> & { src: string };
  const n = x.natTuple as (Partial<Tuple> & { src: string; proto: number }) | undefined;
  const bad = familyMismatch(x.master, v6)
    ? 'master'
    : familyMismatch(x.tuple, v6)
      ? 'tuple'
      : familyMismatch({ src: m.src, dst: m.dst ?? allOnes(v6) }, v6)
        ? 'mask'
        : n && familyMismatch({ src: n.src, dst: n.dst ?? anyAddr(v6) }, v6)
          ? 'natTuple'
          : '';
  if (bad) throw new Error(`${bad}: address family does not match family ${x.family} (${v6 ? 'ipv6' : 'ipv4'})`);
  if ((x.natDir === undefined) !== (x.natTuple === undefined))
    throw new Error(`${x.natDir === undefined ? 'natDir' : 'natTuple'}: missing (NAT needs both natDir and natTuple)`);
  if (m.dst !== undefined && m.proto !== undefined && (n === undefined || n.dst !== undefined)) return x;
  // field order as a dump has it (src, dst, proto, ...)
  const { src: maskSrc, dst: maskDst, proto: maskProto, ...maskRest } = m;
  const out: Expect = {
    ...x,
    mask: { src: maskSrc, dst: maskDst ?? allOnes(v6), proto: maskProto ?? x.tuple.proto, ...maskRest },
  };
  if (n) {
    const { src: natSrc, dst: natDst, ...natRest } = n;
    out.natTuple = { src: natSrc, dst: natDst ?? anyAddr(v6), ...natRest };
  }
  return out;
}
