// Serial-number arithmetic on FT-FW's 32-bit sequence numbers (RFC 1982 style, as conntrackd:
// before(a, b) <=> (int32)(a - b) < 0), so that the wrap from 2^32-1 to 0 is harmless.

export function seqBefore(a: number, b: number): boolean {
  return ((a - b) | 0) < 0;
}

export function seqAfter(a: number, b: number): boolean {
  return ((b - a) | 0) < 0;
}

/** a + n modulo 2^32. */
export function seqAdd(a: number, n: number): number {
  return (a + n) >>> 0;
}

/** Signed distance a - b in serial arithmetic. */
export function seqDiff(a: number, b: number): number {
  return (a - b) | 0;
}
