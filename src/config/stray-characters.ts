// Characters that look like spaces (or like nothing) but are not separators in conntrackd.conf,
// with the name and advice a message gives for each.
//
// conntrackd 1.4.7's scanner separates words with spaces, tabs, CRs and newlines only and skips
// comments whole; any other character outside a comment or a path becomes a one-character token
// that its grammar never accepts. What that does depends on the byte (checked with
// `conntrackd -C file -s` and `conntrackd -C file`):
//   - a control character (form feed, vertical tab, escape, DEL …): "parsing config file in
//     line (N), symbol '': syntax error", and the daemon exits with status 1;
//   - NUL, or any byte of a non-ASCII character (U+00A0 is C2 A0, U+2028 is E2 80 A8, a BOM is
//     EF BB BF, bytes that are not UTF-8): read as the end of the file, so a syntax error inside a
//     block, and outside one the rest of the file is silently ignored (a BOM at the start makes
//     conntrackd read an empty configuration);
//   - inside a path (which runs to the next space, newline or '"'), any of them is kept as part
//     of the path.
// ctsync refuses every one of them outside comments, naming it, and reads it as a space so that
// the rest of the file is still checked.

export interface StrayCharacter {
  /** e.g. "U+000C form feed". */
  readonly name: string;
  /** What to do about it, e.g. "replace it with a space". */
  readonly advice: string;
  /** Whether it reads as a space or line break (to the eye, or to other programs). */
  readonly spaceLike: boolean;
  /** How conntrackd 1.4.7 reads it outside a path. */
  readonly conntrackd: string;
}

const SPACE = 'replace it with a space';
const NEWLINE = 'replace it with a newline';
const DELETE = 'delete it';

/** Named characters and their advice; other controls are named by their code alone. */
const NAMED: ReadonlyMap<number, readonly [string, string]> = new Map([
  [0x00, ['NUL', DELETE]],
  [0x0b, ['vertical tab', SPACE]],
  [0x0c, ['form feed', SPACE]],
  [0x1b, ['escape', DELETE]],
  [0x7f, ['delete', DELETE]],
  [0x85, ['next line (NEL)', NEWLINE]],
  [0xa0, ['no-break space', SPACE]],
  [0x1680, ['Ogham space mark', SPACE]],
  [0x2000, ['en quad', SPACE]],
  [0x2001, ['em quad', SPACE]],
  [0x2002, ['en space', SPACE]],
  [0x2003, ['em space', SPACE]],
  [0x2004, ['three-per-em space', SPACE]],
  [0x2005, ['four-per-em space', SPACE]],
  [0x2006, ['six-per-em space', SPACE]],
  [0x2007, ['figure space', SPACE]],
  [0x2008, ['punctuation space', SPACE]],
  [0x2009, ['thin space', SPACE]],
  [0x200a, ['hair space', SPACE]],
  [0x200b, ['zero-width space', DELETE]],
  [0x200c, ['zero-width non-joiner', DELETE]],
  [0x200d, ['zero-width joiner', DELETE]],
  [0x2028, ['line separator', NEWLINE]],
  [0x2029, ['paragraph separator', NEWLINE]],
  [0x202f, ['narrow no-break space', SPACE]],
  [0x205f, ['medium mathematical space', SPACE]],
  [0x2060, ['word joiner', DELETE]],
  [0x3000, ['ideographic space', SPACE]],
  [0xfeff, ['byte order mark (zero-width no-break space)', 'delete it (save the file without a byte order mark)']],
  [0xfffd, ['replacement character (the file is not valid UTF-8 here)', 'retype this part of the file in ASCII']],
]);

const hex4 = (code: number) => `U+${code.toString(16).toUpperCase().padStart(4, '0')}`;

/** True for C0 controls other than tab, LF and CR, DEL and C1 controls. */
const isControl = (code: number) =>
  (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || (code >= 0x7f && code <= 0x9f);

/**
 * The stray character `c` (one UTF-16 code unit) if conntrackd.conf cannot have it outside a
 * comment; undefined for ordinary characters, including space, tab, CR and LF.
 */
export function strayCharacter(c: string): StrayCharacter | undefined {
  const code = c.charCodeAt(0);
  if (code >= 0x20 && code < 0x7f) return undefined;
  const named = NAMED.get(code);
  if (!named && !isControl(code)) return undefined;
  const [name, advice] = named ?? ['control character', DELETE];
  const conntrackd =
    code === 0 || code >= 0x80
      ? 'conntrackd 1.4.7 stops reading the file there'
      : 'conntrackd 1.4.7 fails with a syntax error';
  return { name: `${hex4(code)} ${name}`, advice, spaceLike: advice === SPACE || advice === NEWLINE, conntrackd };
}

/** The message for a run of `count` stray characters `s`, in a path or between words. */
export function strayMessage(s: StrayCharacter, count: number, inPath: boolean): string {
  const what = `stray ${s.name}${count > 1 ? ` (${count} in a row)` : ''}`;
  if (inPath) return `${what} in a path: conntrackd 1.4.7 would keep it as part of the path; ${s.advice}`;
  const why = s.spaceLike
    ? `not a separator in conntrackd.conf (only spaces, tabs and newlines are; ${s.conntrackd})`
    : `conntrackd.conf cannot have it outside a comment (${s.conntrackd})`;
  return `${what}: ${why}; ${s.advice}`;
}

/** `text` with stray characters, tabs and CRs shown as escapes (\f, \u00a0 …), for messages. */
export function printable(text: string): string {
  let out = '';
  for (const c of text) {
    if (c === '\t') out += '\\t';
    else if (c === '\r') out += '\\r';
    else if (c === '\f') out += '\\f';
    else if (c === '\v') out += '\\v';
    else if (c.length === 1 && strayCharacter(c)) out += `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    else out += c;
  }
  return out;
}
