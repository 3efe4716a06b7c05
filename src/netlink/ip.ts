// IP address text <-> bytes, written for speed (these run twice per tuple on every decoded entry).
// Text form matches glibc inet_ntop, which is what `conntrack -L` prints.

export function formatIPv4(b: Uint8Array, p: number): string {
  return b[p] + '.' + b[p + 1] + '.' + b[p + 2] + '.' + b[p + 3];
}

export function formatIPv6(b: Uint8Array, p: number): string {
  const w = new Array<number>(8);
  for (let i = 0; i < 8; i++) w[i] = (b[p + 2 * i] << 8) | b[p + 2 * i + 1];
  // longest run of zero words (length >= 2), first one wins on ties, as inet_ntop does
  let bestBase = -1;
  let bestLen = 0;
  let curBase = -1;
  let curLen = 0;
  for (let i = 0; i < 8; i++) {
    if (w[i] === 0) {
      if (curBase < 0) {
        curBase = i;
        curLen = 1;
      } else curLen++;
      if (curLen > bestLen) {
        bestBase = curBase;
        bestLen = curLen;
      }
    } else curBase = -1;
  }
  if (bestLen < 2) bestBase = -1;
  // IPv4-compatible (::a.b.c.d) and IPv4-mapped (::ffff:a.b.c.d) forms. Not for a run of 7
  // (::2 stays ::2): the BSD code's `best.len == 7` test sits where that case never reaches it.
  if (bestBase === 0 && (bestLen === 6 || (bestLen === 5 && w[5] === 0xffff))) {
    return (bestLen === 5 ? '::ffff:' : '::') + formatIPv4(b, p + 12);
  }
  let s = '';
  for (let i = 0; i < 8; i++) {
    if (i === bestBase) {
      s += i === 0 ? '::' : ':';
      i += bestLen - 1;
      continue;
    }
    s += w[i].toString(16);
    if (i < 7) s += ':';
  }
  return s;
}

export class AddressError extends Error {
  constructor(text: string, family: string) {
    super(`invalid ${family} address '${text}'`);
    this.name = 'AddressError';
  }
}

/** Writes the 4 bytes of a dotted-quad into out[p..p+3]; throws AddressError. */
export function parseIPv4Into(s: string, out: Uint8Array, p: number): void {
  let part = 0;
  let digits = 0;
  let n = 0;
  for (let i = 0; i <= s.length; i++) {
    const c = i < s.length ? s.charCodeAt(i) : 46;
    if (c === 46) {
      if (digits === 0 || n > 3 || part > 255) throw new AddressError(s, 'IPv4');
      out[p + n++] = part;
      part = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3 && !(digits === 1 && part === 0)) {
      // no leading zeros ("01" is octal to inet_aton): inet_pton and conntrack(8) reject them too
      part = part * 10 + (c - 48);
      digits++;
    } else throw new AddressError(s, 'IPv4');
  }
  if (n !== 4) throw new AddressError(s, 'IPv4');
}

/** Writes the 16 bytes of an IPv6 address (RFC 4291 text, incl. :: and embedded IPv4). */
const v6words = new Uint16Array(8);
const v4tail = new Uint8Array(4);

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Writes the 16 bytes of an IPv6 address (RFC 4291 text, incl. :: and embedded IPv4). A single
 * pass over the characters, no allocation: this runs for every IPv6 tuple that is encoded.
 */
export function parseIPv6Into(s: string, out: Uint8Array, p: number): void {
  const len = s.length;
  let n = 0; // words written
  let gap = -1; // word index where '::' stands
  let i = 0;
  if (len >= 2 && s.charCodeAt(0) === 58 && s.charCodeAt(1) === 58) {
    gap = 0;
    i = 2;
  } else if (len > 0 && s.charCodeAt(0) === 58) throw new AddressError(s, 'IPv6');
  while (i < len) {
    if (n >= 8) throw new AddressError(s, 'IPv6');
    // one group: up to 4 hex digits, or a dotted IPv4 tail
    const start = i;
    let v = 0;
    let digits = 0;
    while (i < len) {
      const d = hexDigit(s.charCodeAt(i));
      if (d < 0) break;
      v = (v << 4) | d;
      digits++;
      i++;
    }
    if (i < len && s.charCodeAt(i) === 46) {
      // embedded IPv4: the rest of the string, as the last 32 bits
      if (n > 6) throw new AddressError(s, 'IPv6');
      try {
        parseIPv4Into(s.slice(start), v4tail, 0);
      } catch {
        throw new AddressError(s, 'IPv6'); // name the address the user wrote, not its tail
      }
      v6words[n++] = (v4tail[0] << 8) | v4tail[1];
      v6words[n++] = (v4tail[2] << 8) | v4tail[3];
      break;
    }
    if (digits === 0 || digits > 4) throw new AddressError(s, 'IPv6');
    v6words[n++] = v;
    if (i === len) break;
    if (s.charCodeAt(i) !== 58) throw new AddressError(s, 'IPv6');
    i++;
    if (i < len && s.charCodeAt(i) === 58) {
      if (gap >= 0) throw new AddressError(s, 'IPv6');
      gap = n;
      i++;
    } else if (i === len) throw new AddressError(s, 'IPv6'); // trailing single ':'
  }
  if (gap < 0 ? n !== 8 : n > 7) throw new AddressError(s, 'IPv6');
  const zeros = gap < 0 ? 0 : 8 - n;
  for (let w = 0, src = 0; w < 8; w++) {
    const word = gap >= 0 && w >= gap && w < gap + zeros ? 0 : v6words[src++];
    out[p + 2 * w] = word >> 8;
    out[p + 2 * w + 1] = word & 0xff;
  }
}

export function parseIP(s: string, family: number): Uint8Array {
  if (family === 10) {
    const b = new Uint8Array(16);
    parseIPv6Into(s, b, 0);
    return b;
  }
  const b = new Uint8Array(4);
  parseIPv4Into(s, b, 0);
  return b;
}

export function isIPv6Text(s: string): boolean {
  return s.includes(':');
}
