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
      if (curBase < 0) { curBase = i; curLen = 1; } else curLen++;
      if (curLen > bestLen) { bestBase = curBase; bestLen = curLen; }
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
export function parseIPv6Into(s: string, out: Uint8Array, p: number): void {
  const dbl = s.indexOf('::');
  if (dbl !== s.lastIndexOf('::')) throw new AddressError(s, 'IPv6');
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const words: number[] = [];
  const tailWords: number[] = [];
  const take = (part: string, into: number[], allowV4: boolean): void => {
    if (part === '') return;
    const groups = part.split(':');
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i];
      if (allowV4 && i === groups.length - 1 && g.includes('.')) {
        const v4 = new Uint8Array(4);
        try {
          parseIPv4Into(g, v4, 0);
        } catch {
          throw new AddressError(s, 'IPv6'); // name the address the user wrote, not its tail
        }
        into.push((v4[0] << 8) | v4[1], (v4[2] << 8) | v4[3]);
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) throw new AddressError(s, 'IPv6');
      into.push(parseInt(g, 16));
    }
  };
  take(head, words, dbl < 0);
  take(tail, tailWords, true);
  const total = words.length + tailWords.length;
  if (dbl < 0 ? total !== 8 : total > 7) throw new AddressError(s, 'IPv6');
  const all = dbl < 0 ? words : [...words, ...new Array<number>(8 - total).fill(0), ...tailWords];
  for (let i = 0; i < 8; i++) {
    out[p + 2 * i] = all[i] >> 8;
    out[p + 2 * i + 1] = all[i] & 0xff;
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
