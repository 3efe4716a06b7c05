// Reader for conntrackd.conf (conntrack-tools 1.4.7 syntax, docs/conntrackd-compat.md §1) producing ctsync's model.
//
// Lexing follows conntrackd's scanner so that a file means the same to both programs: keywords are
// case-sensitive; booleans are on/off/yes/no in any case; a value is classified the way flex would
// (longest match, earlier rule on a tie), which has visible consequences: a word of 1-4 hex digits
// ("abc", "ae0", "f00") is an IPv6 address, not a name; "on"/"no" are booleans; a path runs from
// '/' to the next space or newline (tabs, '#', braces and CRs included); there are no quotes.
// Only spaces, tabs, CRs and newlines separate words: a form feed, vertical tab, U+00A0 or other
// stray character outside a comment is an error (conntrackd fails or stops reading there; see
// stray-characters.ts) and is then read as a space so that the rest of the file is still checked.
// The parser is a recursive descent over blocks `Name [args] { … }` and collects every problem.
//
// Messages: <source>:<line>:<column>: <message>, e.g.
//   conntrackd.conf:12:3: unknown option 'Foo' in Sync > Mode FTFW
//   conntrackd.conf:7:8: 'Port' expects a number, got 'abc'
//   conntrackd.conf:3:3: 'RefreshTime' is not valid in Mode FTFW: it is a Mode ALARM option; remove it or write 'Mode ALARM'
// Value problems the schema finds (ranges, formats) are reported at the option's position too.
// What conntrackd merely warns about and then ignores (a bad address, an unknown protocol name or
// syslog facility) is an error here; deprecated or ignored options are warnings.
import { ConfigError, closest, type ConfigProblem } from './errors.js';
import type {
  ChannelInput,
  CtsyncConfigInput,
  FilterConfigInput,
  FilterMode,
  SyncMode,
  TcpFilterState,
} from './model.js';
import { DEFAULTS, SYSLOG_FACILITIES, withDefaults } from './model.js';
import { PROTOCOL_NAMES, protocolByName } from './protocols.js';
import { checkConfig, isIPv4, isIPv6, lintConfig, type KeyedProblem } from './schema.js';
import { printable, strayCharacter, strayMessage } from './stray-characters.js';
import { readAuthenticationBlock, type AuthBlockReader } from './auth-section.js';
import { HelperSectionReader } from './helper-section.js';

// ------------------------------------------------------------------------------------- lexer

export type WordClass = 'keyword' | 'bool' | 'number' | 'signed' | 'ip' | 'path' | 'mode' | 'string' | 'invalid';

export interface Token {
  kind: 'word' | '{' | '}' | 'eof';
  text: string;
  line: number;
  col: number;
  cls: WordClass;
}

/** Every keyword of conntrackd 1.4.7's scanner (exact, case-sensitive). */
export const KEYWORDS: ReadonlySet<string> = new Set([
  'UNIX',
  'IPv4_address',
  'IPv6_address',
  'IPv4_Destination_Address',
  'IPv6_Destination_Address',
  'IPv4_interface',
  'IPv6_interface',
  'Interface',
  'Multicast',
  'UDP',
  'TCP',
  'HashSize',
  'RefreshTime',
  'CacheTimeout',
  'CommitTimeout',
  'HashLimit',
  'Path',
  'Backlog',
  'Group',
  'Port',
  'LogFile',
  'Syslog',
  'LockFile',
  'General',
  'Sync',
  'Stats',
  'SocketBufferSize',
  'SocketBufferSizeMaxGrown',
  'SocketBufferSizeMaxGrowth',
  'NetlinkBufferSize',
  'NetlinkBufferSizeMaxGrowth',
  'Mode',
  'ResendQueueSize',
  'Checksum',
  'ACKWindowSize',
  'for',
  'SYN_SENT',
  'SYN_RECV',
  'ESTABLISHED',
  'FIN_WAIT',
  'CLOSE_WAIT',
  'LAST_ACK',
  'TIME_WAIT',
  'CLOSE',
  'CLOSED',
  'LISTEN',
  'SndSocketBuffer',
  'RcvSocketBuffer',
  'Filter',
  'Protocol',
  'Address',
  'State',
  'Accept',
  'Ignore',
  'PurgeTimeout',
  'From',
  'Userspace',
  'Kernelspace',
  'EventIterationLimit',
  'Default',
  'PollSecs',
  'NetlinkOverrunResync',
  'Nice',
  'Scheduler',
  'Type',
  'Priority',
  'NetlinkEventsReliable',
  'DisableInternalCache',
  'DisableExternalCache',
  'Options',
  'TCPWindowTracking',
  'ExpectationSync',
  'ErrorQueueLength',
  'Helper',
  'QueueNum',
  'QueueLen',
  'Policy',
  'ExpectMax',
  'ExpectTimeout',
  'Systemd',
  'StartupResync',
  'Setup',
]);

const RE_TRUE = /^(?:[oO][nN]|[yY][eE][sS])$/;
const RE_FALSE = /^(?:[oO][fF][fF]|[nN][oO])$/;
const RE_IP4 = /^[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+(?:\/[0-9]+)?$/;
const HEX = '[0-9a-fA-F]{1,4}';
const RE_IP6 = new RegExp(`^(?:(?:${HEX}:?){0,7}::(?:${HEX}:?){0,7}|(?:${HEX}:){0,7}${HEX})(?:/[0-9]+)?$`);
const RE_MODE =
  /^(?:[aA][lL][aA][rR][mM]|[pP][eE][rR][sS][iI][sS][tT][eE][nN]T|[fF][tT][fF][wW]|[nN][aA][cC][kK]|[nN][oO][tT][rR][aA][cC][kK])$/;
const RE_STRING = /^[a-zA-Z][a-zA-Z0-9._-]*$/;

/** What conntrackd's scanner makes of a whole word ('invalid': it would not be one token). */
export function classifyWord(w: string): WordClass {
  if (KEYWORDS.has(w)) return 'keyword';
  if (RE_TRUE.test(w) || RE_FALSE.test(w)) return 'bool';
  if (/^[0-9]+$/.test(w)) return 'number';
  if (/^[-+][0-9]+$/.test(w)) return 'signed';
  if (RE_IP4.test(w) || RE_IP6.test(w)) return 'ip';
  if (w.startsWith('/') && !/[" \n]/.test(w)) return 'path';
  if (RE_MODE.test(w)) return 'mode';
  if (RE_STRING.test(w)) return 'string';
  return 'invalid';
}

/** A character the scanner refuses (see stray-characters.ts), at its place. */
export interface LexProblem {
  line: number;
  col: number;
  message: string;
}

/** Ends a word (not a path): conntrackd's separators, braces, a comment, or a stray character. */
function endsWord(c: string): boolean {
  return (
    c === ' ' ||
    c === '\t' ||
    c === '\r' ||
    c === '\n' ||
    c === '{' ||
    c === '}' ||
    c === '#' ||
    strayCharacter(c) !== undefined
  );
}

/**
 * Splits conntrackd.conf text into tokens; stray characters (form feed, U+00A0 …) outside
 * comments go to `problems` and separate words like a space. Every step of the loop consumes at
 * least one character, so any input ends.
 */
// eslint-disable-next-line max-lines-per-function -- listed exception, to be split
export function tokenize(text: string, problems: LexProblem[] = []): Token[] {
  const out: Token[] = [];
  let i = 0;
  let line = 1;
  let col = 1;
  const n = text.length;
  /** Reports the run of one stray character at text[at] (column `atCol`); returns the run's length (>= 1). */
  const stray = (at: number, atCol: number, inPath: boolean): number => {
    const s = strayCharacter(text[at]!)!;
    let len = 1;
    while (at + len < n && text[at + len] === text[at]) len++;
    problems.push({ line, col: atCol, message: strayMessage(s, len, inPath) });
    return len;
  };
  while (i < n) {
    const c = text[i]!;
    if (c === '\n') {
      i++;
      line++;
      col = 1;
      continue;
    }
    if (c === ' ' || c === '\t' || c === '\r') {
      i++;
      col++;
      continue;
    }
    // conntrackd skips a comment whole, whatever it holds.
    if (c === '#') {
      do {
        i++;
        col++;
      } while (i < n && text[i] !== '\n');
      continue;
    }
    if (c === '{' || c === '}') {
      out.push({ kind: c, text: c, line, col, cls: 'invalid' });
      i++;
      col++;
      continue;
    }
    if (strayCharacter(c)) {
      const len = stray(i, col, false);
      i += len;
      col += len;
      continue;
    }
    const start = i;
    if (c === '/') {
      // conntrackd's path token: '/' then anything but a double quote, newline or space.
      do {
        if (strayCharacter(text[i]!)) i += stray(i, col + i - start, true);
        else i++;
      } while (i < n && text[i] !== '"' && text[i] !== '\n' && text[i] !== ' ');
    } else {
      do i++;
      while (i < n && !endsWord(text[i]!));
    }
    const w = text.slice(start, i);
    out.push({ kind: 'word', text: w, line, col, cls: classifyWord(w) });
    col += i - start;
  }
  out.push({ kind: 'eof', text: '', line, col, cls: 'invalid' });
  return out;
}

// ------------------------------------------------------------------------------------ parser

type Want = 'number' | 'bool' | 'ip4' | 'ip6' | 'path' | 'ifname' | 'signed';

const WANT_PHRASE: Record<Want, string> = {
  number: 'a number',
  bool: 'on or off (or yes/no)',
  ip4: 'an IPv4 address',
  ip6: 'an IPv6 address',
  path: "an absolute path (starting with '/')",
  ifname: 'an interface name',
  signed: 'a signed number such as -5',
};

const INT_MAX = 2147483647;

const TCP_STATE_WORDS: Record<string, TcpFilterState> = {
  SYN_SENT: 'SYN_SENT',
  SYN_RECV: 'SYN_RECV',
  ESTABLISHED: 'ESTABLISHED',
  FIN_WAIT: 'FIN_WAIT',
  CLOSE_WAIT: 'CLOSE_WAIT',
  LAST_ACK: 'LAST_ACK',
  TIME_WAIT: 'TIME_WAIT',
  CLOSE: 'CLOSE',
  CLOSED: 'CLOSE',
  LISTEN: 'LISTEN',
};

/** Where each option lives, for "it belongs in …" hints. */
const HOME: Record<string, string> = {
  General: 'the top level',
  Sync: 'the top level',
  Stats: 'the top level',
  Helper: 'the top level',
  Systemd: 'General',
  HashSize: 'General',
  HashLimit: 'General',
  LogFile: 'General',
  Syslog: 'General',
  LockFile: 'General',
  UNIX: 'General',
  NetlinkBufferSize: 'General',
  NetlinkBufferSizeMaxGrowth: 'General',
  SocketBufferSize: 'General',
  SocketBufferSizeMaxGrown: 'General',
  SocketBufferSizeMaxGrowth: 'General',
  NetlinkOverrunResync: 'General',
  NetlinkEventsReliable: 'General',
  PollSecs: 'General',
  EventIterationLimit: 'General',
  Nice: 'General',
  Scheduler: 'General',
  Filter: 'General',
  Path: 'General > UNIX',
  Backlog: 'General > UNIX',
  Type: 'General > Scheduler',
  Priority: 'General > Scheduler',
  Protocol: 'General > Filter',
  Address: 'General > Filter',
  State: 'General > Filter',
  Mode: 'Sync',
  Multicast: 'Sync',
  UDP: 'Sync',
  TCP: 'Sync',
  Options: 'Sync',
  ResendQueueSize: 'Sync > Mode FTFW',
  ACKWindowSize: 'Sync > Mode FTFW',
  DisableExternalCache: 'Sync > Mode FTFW',
  StartupResync: 'Sync > Mode FTFW',
  CommitTimeout: 'Sync > Mode FTFW',
  PurgeTimeout: 'Sync > Mode FTFW',
  Interface: 'Sync > UDP, TCP or Multicast',
  Checksum: 'Sync > UDP, TCP or Multicast',
  SndSocketBuffer: 'Sync > UDP, TCP or Multicast',
  RcvSocketBuffer: 'Sync > UDP, TCP or Multicast',
  Port: 'Sync > UDP or TCP',
  IPv4_Destination_Address: 'Sync > UDP or TCP',
  IPv6_Destination_Address: 'Sync > UDP or TCP',
  ErrorQueueLength: 'Sync > TCP',
  Group: 'Sync > Multicast',
  IPv4_interface: 'Sync > Multicast',
  IPv6_interface: 'Sync > Multicast',
  IPv4_address: 'Sync > UDP, TCP or Multicast, or General > Filter > Address',
  IPv6_address: 'Sync > UDP, TCP or Multicast, or General > Filter > Address',
  TCPWindowTracking: 'Sync > Options',
  ExpectationSync: 'Sync > Options',
};

interface Loc {
  line: number;
  col: number;
  label: string;
}

const TOP_LEVEL: ReadonlySet<string> = new Set(['General', 'Sync', 'Stats', 'Helper']);

type Mutable = Record<string, unknown>;

export interface ConntrackdConfResult {
  /** The configuration as written (defaults not applied): what `ctsync config convert` prints. */
  config: CtsyncConfigInput;
  warnings: ConfigProblem[];
  /** Places a later problem of the model (e.g. a key file's) at the option that set it. */
  place(p: KeyedProblem): ConfigProblem;
}

const MODE_LABEL: Record<SyncMode, string> = { ftfw: 'FTFW', notrack: 'NOTRACK', alarm: 'ALARM' };

/** The options conntrackd 1.4.7 takes in each `Mode` block. */
function syncModeOptions(mode: SyncMode): string[] {
  if (mode === 'alarm') return ['RefreshTime', 'CacheTimeout', 'CommitTimeout', 'PurgeTimeout'];
  const common = ['CommitTimeout', 'PurgeTimeout', 'DisableExternalCache', 'StartupResync'];
  return mode === 'ftfw' ? ['ResendQueueSize', 'ACKWindowSize', ...common] : ['DisableInternalCache', ...common];
}

/** Why an option of another mode is not valid in this one, with the fix; undefined if it is not one. */
function misplacedModeOption(name: string, mode: SyncMode): string | undefined {
  const here = `Mode ${MODE_LABEL[mode]}`;
  if (mode === 'alarm') {
    if (name === 'ResendQueueSize' || name === 'ACKWindowSize')
      return `'${name}' is not valid in Mode ALARM: it is a Mode FTFW option (ALARM resends nothing); remove it or write 'Mode FTFW'`;
    if (name === 'DisableExternalCache' || name === 'DisableInternalCache' || name === 'StartupResync')
      return `'${name}' is not valid in Mode ALARM (conntrackd refuses it there too): remove it, or write 'Mode FTFW' or 'Mode NOTRACK'`;
    return undefined;
  }
  if (name === 'RefreshTime' || name === 'CacheTimeout')
    return `'${name}' is not valid in ${here}: it is a Mode ALARM option; remove it or write 'Mode ALARM'`;
  if (mode === 'ftfw' && name === 'DisableInternalCache')
    return `'DisableInternalCache' is not valid in Mode FTFW: it is a Mode NOTRACK option; remove it or write 'Mode NOTRACK'`;
  if (mode === 'notrack' && (name === 'ResendQueueSize' || name === 'ACKWindowSize'))
    return `'${name}' is not valid in Mode NOTRACK: it is a Mode FTFW option (NOTRACK resends nothing); remove it or write 'Mode FTFW'`;
  return undefined;
}

class Reader {
  private i = 0;
  readonly errors: ConfigProblem[] = [];
  readonly warnings: ConfigProblem[] = [];
  /** model key path → where it was set (for schema problems and repeat warnings). */
  readonly locs = new Map<string, Loc>();
  /** model key paths whose problem the reader has already reported in conntrackd terms. */
  readonly reported = new Set<string>();
  readonly sync: Mutable & { channels: Array<Mutable> } = { channels: [] };
  readonly general: Mutable = {};
  private syncSections: Token[] = [];
  private generalSection?: Token;
  private sawMode = false;
  /** RefreshTime and CacheTimeout given in Sync itself: valid only if the mode turns out ALARM. */
  private syncLevelAlarmOptions: Token[] = [];
  private refusedTop = false;
  private firstChannel?: { kind: string; tok: Token };
  private defaultChannel?: { index: number; tok: Token };
  private filterFrom?: Token;
  private filterSets = new Map<string, { mode: FilterMode; tok: Token }>();
  private bufferSizeTok?: Token;
  private unclosedAt = -1;
  private readonly helperSections = new HelperSectionReader({
    err: (t, m) => this.err(t, m),
    warn: (t, m) => this.warn(t, m),
  });

  constructor(
    private readonly toks: Token[],
    private readonly source: string,
  ) {}

  // ------------------------------------------------------------------------------ plumbing

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private next(): Token {
    const t = this.toks[this.i]!;
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private err(t: Token, message: string): void {
    this.errors.push({ source: this.source, line: t.line, column: t.col, message });
  }

  private warn(t: Token, message: string): void {
    this.warnings.push({ source: this.source, line: t.line, column: t.col, message });
  }

  private static got(t: Token): string {
    return t.kind === 'eof' ? 'end of file' : `'${printable(t.text)}'`;
  }

  /** Why conntrackd would not read `t` as the wanted kind of value, if there is a telling reason. */
  private static hint(t: Token, want: Want | 'name'): string {
    if (t.kind !== 'word') return '';
    if (t.text.includes('"')) return ' (conntrackd.conf has no quotes: write the value without them)';
    switch (t.cls) {
      case 'keyword':
        return ` ('${t.text}' is a conntrackd.conf keyword)`;
      case 'bool':
        return want === 'bool' ? '' : ` (conntrackd reads '${t.text}' as a boolean)`;
      case 'mode':
        return ` (conntrackd reads '${t.text}' as a sync mode name)`;
      case 'ip':
        if (want === 'ifname' || want === 'name')
          return ` (conntrackd reads '${t.text}' as an IPv6 address: names made only of 1 to 4 hex digits cannot be used)`;
        return '';
      case 'invalid':
        if ((want === 'ip6' || want === 'ip4') && t.text.includes('%'))
          return " (no zone index: the interface is given by 'Interface')";
        if (want === 'ip6' && t.text.includes(':') && t.text.includes('.'))
          return ' (conntrackd cannot read IPv6 addresses with an embedded IPv4 part)';
        if (want === 'path' && !t.text.startsWith('/')) return ' (paths must be absolute)';
        return '';
      default:
        return '';
    }
  }

  /** After a bad value: consume it if it plausibly was meant as the value (same line, not an option name). */
  private skipBadValue(opt: Token): void {
    const t = this.peek();
    if (t.kind === '{') {
      this.next();
      this.skipBalanced();
      return;
    }
    if (t.kind !== 'word' || t.line !== opt.line) return;
    // A keyword is taken as the next option, unless nothing that could be its value follows it.
    const after = this.toks[this.i + 1]!;
    if (t.cls !== 'keyword' || after.kind === '}' || after.kind === 'eof' || after.line !== t.line) this.next();
  }

  /** Skips to the '}' matching an already consumed '{'. */
  private skipBalanced(): void {
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind === 'eof') return;
      if (t.kind === '{') depth++;
      else if (t.kind === '}') depth--;
    }
  }

  /** Skips a refused block: its header words on the same line, then `{ … }` if present. */
  private skipBlock(head: Token): void {
    while (this.peek().kind === 'word' && this.peek().line === head.line) this.next();
    if (this.peek().kind === '{') {
      this.next();
      this.skipBalanced();
    }
  }

  private skipRestOfLine(line: number): void {
    while (this.peek().kind === 'word' && this.peek().line === line) this.next();
  }

  private value(opt: Token, want: Want): Token | undefined {
    const t = this.peek();
    let ok = false;
    if (t.kind === 'word') {
      switch (want) {
        case 'number':
          ok = t.cls === 'number';
          break;
        case 'signed':
          ok = t.cls === 'signed';
          break;
        case 'bool':
          ok = t.cls === 'bool';
          break;
        case 'ip4':
        case 'ip6':
          ok = t.cls === 'ip';
          break;
        case 'path':
          ok = t.cls === 'path';
          break;
        case 'ifname':
          ok = t.cls === 'string';
          break;
      }
    }
    if (ok) return this.next();
    this.err(t, `'${opt.text}' expects ${WANT_PHRASE[want]}, got ${Reader.got(t)}${Reader.hint(t, want)}`);
    this.skipBadValue(opt);
    return undefined;
  }

  private num(opt: Token, path?: string): number | undefined {
    const t = this.value(opt, 'number');
    if (!t) {
      if (path) this.reported.add(path);
      return undefined;
    }
    if (t.text.replace(/^0+(?=.)/, '').length > 10 || Number(t.text) > INT_MAX) {
      this.err(t, `'${opt.text}' expects a number up to ${INT_MAX}, got '${t.text}'`);
      if (path) this.reported.add(path);
      return undefined;
    }
    return Number(t.text);
  }

  private bool(opt: Token, path?: string): boolean | undefined {
    const t = this.value(opt, 'bool');
    if (!t) {
      if (path) this.reported.add(path);
      return undefined;
    }
    return RE_TRUE.test(t.text);
  }

  private path(opt: Token, path: string): string | undefined {
    const t = this.value(opt, 'path');
    if (!t) {
      this.reported.add(path);
      return undefined;
    }
    const problem = t.text.includes('\r')
      ? 'ends in a carriage return (the file has CRLF line endings; conntrackd would keep it in the path)'
      : t.text.includes('\t')
        ? 'contains a tab (conntrackd reads a path up to the next space or newline; separate values with spaces)'
        : t.text.includes('#')
          ? "contains '#' (conntrackd reads a path up to the next space; put a space before the comment)"
          : /[{}]/.test(t.text)
            ? `contains '${/[{}]/.exec(t.text)![0]}' (conntrackd reads a path up to the next space; put a space before the brace)`
            : undefined;
    if (problem) {
      this.err(t, `'${opt.text}' value '${printable(t.text)}' ${problem}`);
      this.reported.add(path);
      // Recover as if the brace had been separated from the path, and the rest of the line were a comment.
      const braces = [...t.text.replace(/[#\t].*$/s, '')].filter((c) => c === '{' || c === '}');
      this.skipRestOfLine(t.line);
      this.toks.splice(
        this.i,
        0,
        ...braces.map((c): Token => ({ kind: c as '{' | '}', text: c, line: t.line, col: t.col, cls: 'invalid' })),
      );
      return undefined;
    }
    return t.text;
  }

  /** An address for `opt`: IPv4 or IPv6 by the keyword, optionally a network (a/n) for filters. */
  private addr(opt: Token, v6: boolean, path: string, cidr = false): string | undefined {
    const want: Want = v6 ? 'ip6' : 'ip4';
    const t = this.value(opt, want);
    if (!t) {
      this.reported.add(path);
      return undefined;
    }
    const slash = t.text.indexOf('/');
    const a = slash < 0 ? t.text : t.text.slice(0, slash);
    const len = slash < 0 ? undefined : t.text.slice(slash + 1);
    const max = v6 ? 128 : 32;
    const good =
      (v6 ? isIPv6(a) : isIPv4(a)) && (len === undefined || (cidr && /^[0-9]{1,3}$/.test(len) && Number(len) <= max));
    if (!good) {
      const what = cidr ? `${WANT_PHRASE[want]} or network (${v6 ? 'addr/0-128' : 'a.b.c.d/0-32'})` : WANT_PHRASE[want];
      const why =
        !v6 && isIPv6(a)
          ? ' (that is IPv6: use IPv6_' + opt.text.slice(5) + ')'
          : v6 && isIPv4(a)
            ? ' (that is IPv4: use IPv4_' + opt.text.slice(5) + ')'
            : !v6 && /(^|\.)0[0-9]/.test(a)
              ? ' (leading zeros are read as octal by conntrackd)'
              : len !== undefined && !cidr
                ? ' (no prefix length here)'
                : '';
      this.err(t, `'${opt.text}' expects ${what}, got '${t.text}'${why}`);
      this.reported.add(path);
      return undefined;
    }
    return t.text;
  }

  /** Records that `path` was set by `opt` (warning if it already was: the last value wins, as in conntrackd). */
  private set(obj: Mutable, key: string, value: unknown, path: string, opt: Token): void {
    const prev = this.locs.get(path);
    if (prev && obj[key] !== undefined) {
      this.warn(
        opt,
        `'${opt.text}' is given again (previous at line ${prev.line}); the last value wins, as in conntrackd`,
      );
    }
    obj[key] = value;
    this.locs.set(path, { line: opt.line, col: opt.col, label: opt.text });
  }

  private unknownOption(t: Token, ctx: string, valid: readonly string[], extra = ''): void {
    if (t.cls !== 'keyword' && t.cls !== 'string') {
      this.err(
        t,
        `unexpected ${Reader.got(t)} in ${ctx} (expected an option name${t.text.includes('"') ? '; conntrackd.conf has no quotes' : ''})`,
      );
    } else {
      let hint = extra;
      if (!hint) {
        const ci = valid.find((v) => v.toLowerCase() === t.text.toLowerCase());
        const home = HOME[t.text];
        if (ci) hint = ` (keywords are case-sensitive: '${ci}')`;
        else if (home) hint = ` ('${t.text}' belongs in ${home})`;
        else {
          const near = closest(t.text, valid);
          if (near) hint = ` (did you mean '${near}'?)`;
        }
      }
      this.err(t, `unknown option '${t.text}' in ${ctx}${hint}`);
    }
    // Recovery: a following block, or a value on the same line, belongs to the unknown option.
    const v = this.peek();
    if (v.kind === '{') {
      this.next();
      this.skipBalanced();
      return;
    }
    if (v.kind === 'word' && v.line === t.line && !valid.includes(v.text)) {
      this.next();
      if (this.peek().kind === '{') {
        this.next();
        this.skipBalanced();
      }
    }
  }

  /** Expects '{' after a block header; false (and an error) if it is missing. */
  private open(head: Token): Token | undefined {
    const t = this.peek();
    if (t.kind === '{') return this.next();
    this.err(t, `expected '{' after '${head.text}', got ${Reader.got(t)}`);
    return undefined;
  }

  /** Runs `onOption` for each word up to the matching '}'. */
  private body(ctx: string, open: Token, head: Token, onOption: (t: Token) => void): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        this.err(t, `unexpected end of file: '${head.text}' block opened at line ${open.line} is not closed`);
        return;
      }
      if (t.kind === 'word' && TOP_LEVEL.has(t.text)) {
        // A section keyword inside a block: the block's '}' is missing. Close it here.
        if (this.unclosedAt !== this.i)
          this.err(
            t,
            `'${head.text}' block opened at line ${open.line} is not closed before '${t.text}' (missing '}'?)`,
          );
        this.unclosedAt = this.i;
        return;
      }
      this.next();
      if (t.kind === '}') return;
      if (t.kind === '{') {
        this.err(t, `unexpected '{' in ${ctx}`);
        this.skipBalanced();
        continue;
      }
      onOption(t);
    }
  }

  /** Zero means "not set / default" to conntrackd for many numeric options. */
  private zero(opt: Token, meaning: string): void {
    this.warn(opt, `'${opt.text} 0' means ${meaning} to conntrackd; ctsync reads it the same way`);
  }

  // --------------------------------------------------------------------------- top level

  parse(): void {
    for (;;) {
      const t = this.next();
      if (t.kind === 'eof') break;
      if (t.kind === '}') {
        this.err(t, "unexpected '}' (no block is open)");
        continue;
      }
      if (t.kind === '{') {
        this.err(t, "unexpected '{' at the top level (expected 'General' or 'Sync')");
        this.skipBalanced();
        continue;
      }
      switch (t.text) {
        case 'General':
          this.generalBlock(t);
          break;
        case 'Sync':
          this.syncBlock(t);
          break;
        case 'Stats':
          this.err(
            t,
            "'Stats' section is not supported by ctsync (conntrackd's statistics mode; ctsync only synchronizes)",
          );
          this.refusedTop = true;
          this.skipBlock(t);
          break;
        case 'Helper':
          this.i = this.helperSections.read(this.toks, this.i);
          break;
        default:
          this.unknownOption(
            t,
            'the top level',
            ['General', 'Sync'],
            t.cls === 'keyword' && HOME[t.text] ? ` ('${t.text}' belongs in ${HOME[t.text]})` : '',
          );
      }
    }
    this.finish();
  }

  private finish(): void {
    const eof = this.toks[this.toks.length - 1]!;
    if (this.syncSections.length === 0) {
      if (!this.refusedTop)
        this.err(
          { ...eof, line: 1, col: 1 },
          "no 'Sync' section: conntrackd would run in statistics mode, which ctsync does not support",
        );
      this.reported.add('sync');
      this.reported.add('sync.channels');
    } else {
      const first = this.syncSections[0]!;
      if (this.sync.channels.length === 0) {
        this.err(first, "'Sync' section has no 'UDP', 'Multicast' or 'TCP' block (ctsync needs one to reach its peer)");
        this.reported.add('sync.channels');
      }
      if (this.sync.channels.length === 0) this.reported.add('sync.channels');
      if (!this.sawMode) this.warn(first, "no 'Mode' block in 'Sync': Mode FTFW is assumed, as conntrackd does");
      const mode = (this.sync.mode as SyncMode | undefined) ?? 'ftfw';
      if (mode !== 'alarm')
        for (const t of this.syncLevelAlarmOptions) {
          this.err(
            t,
            `'${t.text}' only applies to Mode ALARM (this Sync is Mode ${MODE_LABEL[mode]}); remove it or write 'Mode ALARM'`,
          );
          this.reported.add(t.text === 'RefreshTime' ? 'sync.refreshTime' : 'sync.cacheTimeout');
        }
    }
    const g = this.general;
    if (this.bufferSizeTok && typeof g.netlinkBufferSize === 'number') {
      const max =
        typeof g.netlinkBufferSizeMaxGrowth === 'number'
          ? g.netlinkBufferSizeMaxGrowth
          : DEFAULTS.general.netlinkBufferSizeMaxGrowth;
      if (g.netlinkBufferSize > max) {
        this.warn(
          this.bufferSizeTok,
          `conntrackd ignores '${this.bufferSizeTok.text} ${g.netlinkBufferSize}' because it is larger than NetlinkBufferSizeMaxGrowth (${max}); ctsync applies it (and never shrinks below it)`,
        );
      }
    }
  }

  // -------------------------------------------------------------------------------- Sync

  private syncBlock(head: Token): void {
    if (this.syncSections.length > 0)
      this.warn(
        head,
        `'Sync' section given again (first at line ${this.syncSections[0]!.line}); its options are merged, as in conntrackd`,
      );
    this.syncSections.push(head);
    const open = this.open(head);
    if (!open) return;
    const ctx = 'Sync';
    const valid = [
      'Mode',
      'Multicast',
      'UDP',
      'TCP',
      'Options',
      'CommitTimeout',
      'PurgeTimeout',
      'RefreshTime',
      'CacheTimeout',
      'Authentication',
    ];
    this.body(ctx, open, head, (t) => {
      switch (t.text) {
        case 'Mode':
          this.modeBlock(t);
          break;
        case 'Authentication':
          readAuthenticationBlock(this.authReader(), t, this.sync);
          break;
        case 'UDP':
        case 'Multicast':
        case 'TCP':
          this.channelBlock(t);
          break;
        case 'Options':
          this.optionsBlock(t);
          break;
        case 'CommitTimeout':
        case 'PurgeTimeout':
          this.timeoutOption(t);
          break;
        case 'RefreshTime':
        case 'CacheTimeout':
          // conntrackd takes them here as in Mode ALARM: checked against the mode at the end
          if (this.alarmTimeOption(t)) this.syncLevelAlarmOptions.push(t);
          break;
        default:
          this.unknownOption(t, ctx, valid);
      }
    });
  }

  /** The reader's helpers, lent to the Authentication block (config/auth-section.ts). */
  private authReader(): AuthBlockReader {
    return {
      peek: () => this.peek(),
      next: () => this.next(),
      open: (h) => this.open(h),
      body: (ctx, open, h, on) => this.body(ctx, open, h, on),
      err: (t, m) => this.err(t, m),
      num: (o, p) => this.num(o, p),
      bool: (o, p) => this.bool(o, p),
      path: (o, p) => this.path(o, p),
      set: (obj, k, v, p, o) => this.set(obj, k, v, p, o),
      unknownOption: (t, ctx, valid) => this.unknownOption(t, ctx, valid),
      at: (p, t) => this.locs.set(p, { line: t.line, col: t.col, label: t.text }),
      reported: this.reported,
    };
  }

  /** RefreshTime or CacheTimeout (seconds; 0 is conntrackd's default); true if it was read. */
  private alarmTimeOption(t: Token): boolean {
    const key = t.text === 'RefreshTime' ? 'refreshTime' : 'cacheTimeout';
    const v = this.num(t, `sync.${key}`);
    if (v === undefined) return false;
    if (v === 0) this.zero(t, `the default (${DEFAULTS.sync[key]} s)`);
    else this.set(this.sync, key, v, `sync.${key}`, t);
    return true;
  }

  private timeoutOption(t: Token): void {
    const key = t.text === 'CommitTimeout' ? 'commitTimeout' : 'purgeTimeout';
    const v = this.num(t, `sync.${key}`);
    if (v === undefined) return;
    if (v === 0) {
      this.zero(
        t,
        key === 'commitTimeout'
          ? '"not set" (timeouts are estimated)'
          : `the default (${DEFAULTS.sync.purgeTimeout} s)`,
      );
      return;
    }
    this.set(this.sync, key, v, `sync.${key}`, t);
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private modeBlock(head: Token): void {
    const m = this.peek();
    if (m.kind !== 'word' || m.cls !== 'mode') {
      const persistent = m.kind === 'word' && /^persistent$/i.test(m.text);
      this.err(
        m,
        `'Mode' expects FTFW, NOTRACK or ALARM, got ${Reader.got(m)}${persistent ? " (conntrackd's scanner takes the old name PERSISTENT only with a capital final T; write 'Mode ALARM')" : ''}`,
      );
      if (m.kind === 'word' && m.line === head.line) this.next();
      if (this.peek().kind === '{') {
        this.next();
        this.skipBalanced();
      }
      return;
    }
    this.next();
    const name = m.text.toUpperCase();
    const mode: SyncMode =
      name === 'NOTRACK' ? 'notrack' : name === 'ALARM' || name === 'PERSISTENT' ? 'alarm' : 'ftfw';
    const label = MODE_LABEL[mode];
    if (name === 'NACK') this.warn(m, "'Mode NACK' is the old name of Mode FTFW; please write 'Mode FTFW'");
    if (name === 'PERSISTENT')
      this.warn(m, "'Mode PERSISTENT' is the old name of Mode ALARM; please write 'Mode ALARM'");
    const prev = this.sync.mode as SyncMode | undefined;
    if (this.sawMode && prev !== undefined && prev !== mode)
      this.err(head, `'Mode ${label}' conflicts with the earlier 'Mode ${MODE_LABEL[prev]}': keep one`);
    else if (this.sawMode) this.warn(head, `'Mode ${label}' given again; its options are merged, as in conntrackd`);
    this.sawMode = true;
    this.locs.set('sync.mode', { line: head.line, col: head.col, label: 'Mode' });
    this.sync.mode = mode;
    const open = this.open(m);
    if (!open) return;
    const ctx = `Sync > Mode ${label}`;
    const valid = syncModeOptions(mode);
    this.body(ctx, open, { ...head, text: `Mode ${m.text}` }, (t) => {
      const misplaced = misplacedModeOption(t.text, mode);
      if (misplaced !== undefined) {
        this.err(t, misplaced);
        this.skipBadValue(t);
        return;
      }
      switch (t.text) {
        case 'ResendQueueSize':
        case 'ACKWindowSize': {
          const key = t.text === 'ResendQueueSize' ? 'resendQueueSize' : 'ackWindowSize';
          const v = this.num(t, `sync.${key}`);
          if (v === 0) this.zero(t, `the default (${DEFAULTS.sync[key]})`);
          else if (v !== undefined) this.set(this.sync, key, v, `sync.${key}`, t);
          break;
        }
        case 'CommitTimeout':
        case 'PurgeTimeout':
          this.timeoutOption(t);
          break;
        case 'RefreshTime':
        case 'CacheTimeout':
          this.alarmTimeOption(t);
          break;
        case 'DisableExternalCache':
        case 'StartupResync': {
          const key = t.text === 'StartupResync' ? 'startupResync' : 'disableExternalCache';
          const v = this.bool(t, `sync.${key}`);
          if (v !== undefined) this.set(this.sync, key, v, `sync.${key}`, t);
          break;
        }
        case 'DisableInternalCache': {
          const v = this.bool(t, 'sync.disableInternalCache');
          if (v === true)
            this.err(
              t,
              "'DisableInternalCache on' is not supported by ctsync yet (events would be sent without an internal cache); remove it or write 'off'",
            );
          break;
        }
        default:
          this.unknownOption(t, ctx, valid);
      }
    });
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private channelBlock(head: Token): void {
    const kind = head.text === 'UDP' ? 'udp' : head.text === 'TCP' ? 'tcp' : 'multicast';
    let isDefault = false;
    if (this.peek().kind === 'word' && this.peek().text === 'Default') {
      this.next();
      isDefault = true;
    }
    const index = this.sync.channels.length;
    const at = `sync.channels[${index}]`;
    if (index >= 4) {
      this.err(head, `too many links: conntrackd allows at most 4 '${head.text}' blocks`);
      this.reported.add('sync.channels');
    }
    if (this.firstChannel && this.firstChannel.kind !== kind) {
      this.err(
        head,
        `'${head.text}' cannot be combined with the '${this.firstChannel.tok.text}' block at line ${this.firstChannel.tok.line}: all links use one transport`,
      );
      this.reported.add(`${at}.kind`);
    }
    this.firstChannel ??= { kind, tok: head };
    const ch: Mutable = { kind };
    if (isDefault) {
      ch.default = true;
      if (this.defaultChannel) {
        this.warn(
          head,
          `'Default' is also given to the block at line ${this.defaultChannel.tok.line}; the last one wins, as in conntrackd`,
        );
        delete this.sync.channels[this.defaultChannel.index]!.default;
      }
      this.defaultChannel = { index, tok: head };
    }
    this.sync.channels.push(ch);
    this.locs.set(at, { line: head.line, col: head.col, label: head.text });
    this.locs.set(`${at}.kind`, { line: head.line, col: head.col, label: head.text });
    if (isDefault) this.locs.set(`${at}.default`, { line: head.line, col: head.col, label: 'Default' });
    const open = this.open(head);
    if (!open) {
      this.reported.add(at);
      return;
    }

    const ctx = `Sync > ${head.text}`;
    const seen = new Map<string, Token>();
    // UDP and TCP blocks take the same addresses and port; TCP adds ErrorQueueLength
    const udp = kind !== 'multicast';
    const valid = udp
      ? [
          'IPv4_address',
          'IPv6_address',
          'IPv4_Destination_Address',
          'IPv6_Destination_Address',
          'Port',
          'Interface',
          'SndSocketBuffer',
          'RcvSocketBuffer',
          'Checksum',
          ...(kind === 'tcp' ? ['ErrorQueueLength'] : []),
        ]
      : [
          'IPv4_address',
          'IPv6_address',
          'Group',
          'IPv4_interface',
          'IPv6_interface',
          'Interface',
          'SndSocketBuffer',
          'RcvSocketBuffer',
          'Checksum',
        ];
    const conflict = (t: Token, other: string, what: string): boolean => {
      const o = seen.get(other);
      if (!o) return false;
      this.err(t, `'${t.text}' conflicts with '${other}' at line ${o.line}: give one ${what}`);
      this.reported.add(at);
      return true;
    };
    // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
    this.body(ctx, open, head, (t) => {
      if (valid.includes(t.text) && !seen.has(t.text)) seen.set(t.text, t);
      switch (t.text) {
        case 'IPv4_address':
        case 'IPv6_address': {
          const v6 = t.text === 'IPv6_address';
          const key = udp ? (v6 ? 'ipv6Address' : 'ipv4Address') : 'group';
          const v = this.addr(t, v6, `${at}.${key}`);
          if (
            v === undefined ||
            conflict(t, v6 ? 'IPv4_address' : 'IPv6_address', udp ? 'local address' : 'multicast group')
          )
            break;
          this.set(ch, key, v, `${at}.${key}`, t);
          break;
        }
        case 'IPv4_Destination_Address':
        case 'IPv6_Destination_Address': {
          if (!udp) {
            this.unknownOption(
              t,
              ctx,
              valid,
              ` ('${t.text}' belongs in a UDP block; a Multicast block has its group in IPv4_address)`,
            );
            break;
          }
          const v6 = t.text.startsWith('IPv6');
          const v = this.addr(t, v6, `${at}.destination`);
          if (
            v === undefined ||
            conflict(t, v6 ? 'IPv4_Destination_Address' : 'IPv6_Destination_Address', 'destination address')
          )
            break;
          this.set(ch, 'destination', v, `${at}.destination`, t);
          break;
        }
        case 'Port':
        case 'Group': {
          if (udp !== (t.text === 'Port')) {
            this.unknownOption(
              t,
              ctx,
              valid,
              udp ? " (a UDP block has 'Port')" : " (in a Multicast block the UDP port is called 'Group')",
            );
            break;
          }
          const v = this.num(t, `${at}.port`);
          if (v !== undefined) this.set(ch, 'port', v, `${at}.port`, t);
          break;
        }
        case 'IPv4_interface': {
          if (udp) {
            this.unknownOption(
              t,
              ctx,
              valid,
              " ('IPv4_interface' belongs in a Multicast block; a UDP block binds IPv4_address)",
            );
            break;
          }
          const v = this.addr(t, false, `${at}.ipv4Interface`);
          if (v !== undefined) this.set(ch, 'ipv4Interface', v, `${at}.ipv4Interface`, t);
          break;
        }
        case 'IPv6_interface': {
          if (udp) {
            this.unknownOption(t, ctx, valid);
            break;
          }
          if (this.value(t, 'ip6'))
            this.warn(t, "'IPv6_interface' is ignored (as by conntrackd): an IPv6 group uses the index of 'Interface'");
          break;
        }
        case 'Interface': {
          const v = this.value(t, 'ifname');
          if (v) this.set(ch, 'interface', v.text, `${at}.interface`, t);
          else this.reported.add(`${at}.interface`);
          break;
        }
        case 'SndSocketBuffer':
        case 'RcvSocketBuffer': {
          const key = t.text === 'SndSocketBuffer' ? 'sndSocketBuffer' : 'rcvSocketBuffer';
          const v = this.num(t, `${at}.${key}`);
          if (v === 0) this.zero(t, '"not set" (the system default buffer size)');
          else if (v !== undefined) this.set(ch, key, v, `${at}.${key}`, t);
          break;
        }
        case 'Checksum': {
          const v = this.bool(t, `${at}.checksum`);
          if (v === false && kind === 'tcp')
            this.err(t, "'Checksum off' does not apply to TCP, which always carries its checksum; remove it");
          else if (v !== undefined) this.set(ch, 'checksum', v, `${at}.checksum`, t);
          break;
        }
        case 'ErrorQueueLength': {
          if (kind !== 'tcp') {
            this.err(t, `'ErrorQueueLength' only applies to TCP channels; remove it from the ${head.text} block`);
            this.skipBadValue(t);
            break;
          }
          const v = this.num(t, `${at}.errorQueueLength`);
          if (v === 0)
            this.err(t, "'ErrorQueueLength 0' would keep nothing while the peer is unreachable; give 1 or more");
          else if (v !== undefined) this.set(ch, 'errorQueueLength', v, `${at}.errorQueueLength`, t);
          break;
        }
        default:
          this.unknownOption(t, ctx, valid);
      }
    });

    // What the block must have, in conntrackd's words (reported once, at the block header).
    const need = (cond: boolean, key: string, what: string): void => {
      if (!cond) return;
      this.err(head, `'${head.text}' block needs ${what}`);
      this.reported.add(`${at}.${key}`);
    };
    const any = (...names: string[]) => names.some((n) => seen.has(n));
    if (udp) {
      // No local address: conntrackd binds the wildcard address (what VyOS renders by default).
      need(
        !any('IPv4_Destination_Address', 'IPv6_Destination_Address'),
        'destination',
        "'IPv4_Destination_Address' or 'IPv6_Destination_Address' (the peer's address)",
      );
      need(!any('Port'), 'port', `'Port' (the ${head.text} port, e.g. 3780)`);
      const local = seen.get('IPv4_address') ?? seen.get('IPv6_address');
      const dest = seen.get('IPv4_Destination_Address') ?? seen.get('IPv6_Destination_Address');
      if (
        local &&
        dest &&
        !this.reported.has(at) &&
        local.text.slice(0, 4) !== dest.text.slice(0, 4) &&
        ch.destination !== undefined &&
        (ch.ipv4Address ?? ch.ipv6Address) !== undefined
      ) {
        this.err(
          dest,
          `'${dest.text}' does not match '${local.text}' at line ${local.line}: the local and destination addresses must be of the same family`,
        );
        this.reported.add(`${at}.destination`);
      }
    } else {
      need(
        !any('IPv4_address', 'IPv6_address'),
        'group',
        "'IPv4_address' or 'IPv6_address' (the multicast group, e.g. 225.0.0.50)",
      );
      need(!any('Group'), 'port', "'Group' (the UDP port, e.g. 3780)");
      const v4if = seen.get('IPv4_interface');
      if (v4if && seen.has('IPv6_address') && ch.ipv4Interface !== undefined) {
        this.err(v4if, "'IPv4_interface' only applies to an IPv4 group (an IPv6 group uses the index of 'Interface')");
        this.reported.add(`${at}.ipv4Interface`);
      }
      const ifTok = seen.get('Interface');
      const v6Tok = seen.get('IPv6_address');
      if (ifTok && v6Tok && (ifTok.line < v6Tok.line || (ifTok.line === v6Tok.line && ifTok.col < v6Tok.col))) {
        this.warn(
          ifTok,
          "conntrackd 1.4.7 only applies 'Interface' to an IPv6 group when it comes after 'IPv6_address' (otherwise it joins on interface index 0); ctsync applies it either way",
        );
      }
    }
    need(!any('Interface'), 'interface', "'Interface' (the name of the sync interface, e.g. eth2)");
  }

  private optionsBlock(head: Token): void {
    const open = this.open(head);
    if (!open) return;
    const ctx = 'Sync > Options';
    const opts = (this.sync.options ??= {}) as Mutable;
    this.body(ctx, open, head, (t) => {
      switch (t.text) {
        case 'TCPWindowTracking': {
          const v = this.bool(t, 'sync.options.tcpWindowTracking');
          if (v !== undefined) this.set(opts, 'tcpWindowTracking', v, 'sync.options.tcpWindowTracking', t);
          break;
        }
        case 'ExpectationSync':
          this.expectationSync(t, opts);
          break;
        default:
          this.unknownOption(t, ctx, ['TCPWindowTracking', 'ExpectationSync']);
      }
    });
  }

  private expectationSync(t: Token, opts: Mutable): void {
    const path = 'sync.options.expectationSync';
    const v = this.peek();
    if (v.kind === 'word' && v.cls === 'bool') {
      this.next();
      this.set(opts, 'expectationSync', RE_TRUE.test(v.text), path, t);
      return;
    }
    if (v.kind !== '{') {
      this.err(v, `'ExpectationSync' expects on, off or a { list } of helper names, got ${Reader.got(v)}`);
      this.reported.add(path);
      this.skipBadValue(t);
      return;
    }
    const open = this.next();
    const names: string[] = [];
    const start = this.errors.length;
    this.body('Sync > Options > ExpectationSync', open, t, (n) => {
      if (n.cls !== 'string') {
        this.err(n, `'ExpectationSync' lists helper names, got '${n.text}'${Reader.hint(n, 'name')}`);
        return;
      }
      this.locs.set(`${path}[${names.length}]`, { line: n.line, col: n.col, label: 'ExpectationSync' });
      names.push(n.text);
    });
    if (this.errors.length > start) {
      this.reported.add(path);
      return;
    }
    if (names.length === 0) {
      this.warn(
        t,
        "an empty 'ExpectationSync { }' list makes conntrackd synchronize the expectations of all helpers; ctsync reads it as 'ExpectationSync on'",
      );
      this.set(opts, 'expectationSync', true, path, t);
      return;
    }
    this.set(opts, 'expectationSync', names, path, t);
  }

  // ------------------------------------------------------------------------------ General

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private generalBlock(head: Token): void {
    if (this.generalSection)
      this.warn(
        head,
        `'General' section given again (first at line ${this.generalSection.line}); its options are merged, as in conntrackd`,
      );
    this.generalSection ??= head;
    const open = this.open(head);
    if (!open) return;
    const ctx = 'General';
    const g = this.general;
    const valid = [
      'Systemd',
      'HashSize',
      'HashLimit',
      'LogFile',
      'Syslog',
      'LockFile',
      'UNIX',
      'NetlinkBufferSize',
      'NetlinkBufferSizeMaxGrowth',
      'NetlinkOverrunResync',
      'NetlinkEventsReliable',
      'PollSecs',
      'EventIterationLimit',
      'Nice',
      'Scheduler',
      'Filter',
    ];
    const boolOpt = (t: Token, key: string) => {
      const v = this.bool(t, `general.${key}`);
      if (v !== undefined) this.set(g, key, v, `general.${key}`, t);
    };
    const numOpt = (t: Token, key: string, zero?: string) => {
      const v = this.num(t, `general.${key}`);
      if (v === 0 && zero) this.zero(t, zero);
      else if (v !== undefined) this.set(g, key, v, `general.${key}`, t);
    };
    // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
    this.body(ctx, open, head, (t) => {
      switch (t.text) {
        case 'Systemd':
          boolOpt(t, 'systemd');
          break;
        case 'HashSize':
          numOpt(t, 'hashSize', `the default (${DEFAULTS.general.hashSize})`);
          break;
        case 'HashLimit':
          numOpt(t, 'hashLimit', `the default (${DEFAULTS.general.hashLimit})`);
          break;
        case 'EventIterationLimit':
          numOpt(t, 'eventIterationLimit', `the default (${DEFAULTS.general.eventIterationLimit})`);
          break;
        case 'PollSecs':
          numOpt(t, 'pollSecs');
          break;
        case 'NetlinkEventsReliable':
          boolOpt(t, 'netlinkEventsReliable');
          break;
        case 'NetlinkBufferSize':
        case 'SocketBufferSize':
          if (t.text === 'SocketBufferSize')
            this.warn(t, "'SocketBufferSize' is a deprecated alias of 'NetlinkBufferSize'");
          numOpt(t, 'netlinkBufferSize', '"not set" (the system default buffer size)');
          if (g.netlinkBufferSize !== undefined) this.bufferSizeTok = t;
          break;
        case 'NetlinkBufferSizeMaxGrowth':
        case 'SocketBufferSizeMaxGrown':
        case 'SocketBufferSizeMaxGrowth':
          if (t.text !== 'NetlinkBufferSizeMaxGrowth')
            this.warn(t, `'${t.text}' is a deprecated alias of 'NetlinkBufferSizeMaxGrowth'`);
          numOpt(t, 'netlinkBufferSizeMaxGrowth');
          break;
        case 'NetlinkOverrunResync': {
          const v = this.peek();
          if (v.kind === 'word' && v.cls === 'bool') {
            this.next();
            this.set(g, 'netlinkOverrunResync', RE_TRUE.test(v.text), 'general.netlinkOverrunResync', t);
          } else if (v.kind === 'word' && v.cls === 'number') {
            const n = this.num(t, 'general.netlinkOverrunResync');
            if (n === 0) this.zero(t, `the default (${DEFAULTS.general.netlinkOverrunResync} s)`);
            else if (n !== undefined) this.set(g, 'netlinkOverrunResync', n, 'general.netlinkOverrunResync', t);
          } else {
            this.err(
              v,
              `'NetlinkOverrunResync' expects on, off or a number of seconds, got ${Reader.got(v)}${Reader.hint(v, 'number')}`,
            );
            this.reported.add('general.netlinkOverrunResync');
            this.skipBadValue(t);
          }
          break;
        }
        case 'LogFile': {
          const v = this.peek();
          if (v.kind === 'word' && v.cls === 'bool') {
            this.next();
            this.set(g, 'logFile', RE_TRUE.test(v.text), 'general.logFile', t);
          } else if (v.kind === 'word' && v.cls === 'path') {
            const p = this.path(t, 'general.logFile');
            if (p !== undefined) this.set(g, 'logFile', p, 'general.logFile', t);
          } else {
            this.err(v, `'LogFile' expects on, off or an absolute path, got ${Reader.got(v)}${Reader.hint(v, 'path')}`);
            this.reported.add('general.logFile');
            this.skipBadValue(t);
          }
          break;
        }
        case 'Syslog': {
          const v = this.peek();
          if (v.kind === 'word' && v.cls === 'bool') {
            this.next();
            this.set(g, 'syslog', RE_TRUE.test(v.text), 'general.syslog', t);
            break;
          }
          if (v.kind === 'word' && v.cls === 'string' && (SYSLOG_FACILITIES as readonly string[]).includes(v.text)) {
            this.next();
            this.set(g, 'syslog', v.text, 'general.syslog', t);
            break;
          }
          const ci = v.kind === 'word' ? SYSLOG_FACILITIES.find((f) => f === v.text.toLowerCase()) : undefined;
          this.err(
            v,
            `'Syslog' expects on, off or a facility (daemon, local0 ... local7), got ${Reader.got(v)}${ci ? ` (facility names are case-sensitive: '${ci}')` : ''}`,
          );
          this.reported.add('general.syslog');
          this.skipBadValue(t);
          break;
        }
        case 'LockFile': {
          const p = this.path(t, 'general.lockFile');
          if (p !== undefined) this.set(g, 'lockFile', p, 'general.lockFile', t);
          break;
        }
        case 'UNIX':
          this.unixBlock(t);
          break;
        case 'Nice': {
          const v = this.peek();
          if (v.kind === 'word' && v.cls === 'number') {
            this.next();
            this.err(
              v,
              `'Nice' expects a signed number such as -5 (conntrackd refuses an unsigned value), got '${v.text}'`,
            );
          } else if (this.value(t, 'signed')) {
            this.warn(t, "'Nice' is deprecated and ignored (as by conntrackd); use nice(1) or the service manager");
          }
          break;
        }
        case 'Scheduler':
          this.schedulerBlock(t);
          break;
        case 'Filter':
          this.filterBlock(t);
          break;
        default:
          this.unknownOption(t, ctx, valid);
      }
    });
  }

  private unixBlock(head: Token): void {
    const open = this.open(head);
    if (!open) return;
    const unix = (this.general.unix ??= {}) as Mutable;
    this.locs.set('general.unix', { line: head.line, col: head.col, label: 'UNIX' });
    this.body('General > UNIX', open, head, (t) => {
      switch (t.text) {
        case 'Path': {
          const p = this.path(t, 'general.unix.path');
          if (p !== undefined) this.set(unix, 'path', p, 'general.unix.path', t);
          break;
        }
        case 'Backlog': {
          const v = this.num(t, 'general.unix.backlog');
          if (v === undefined) break;
          this.warn(t, "'Backlog' is deprecated (conntrackd ignores it); ctsync uses it as the listen() backlog");
          if (v === 0) this.zero(t, '"not set"');
          else this.set(unix, 'backlog', v, 'general.unix.backlog', t);
          break;
        }
        default:
          this.unknownOption(t, 'General > UNIX', ['Path', 'Backlog']);
      }
    });
  }

  private schedulerBlock(head: Token): void {
    const open = this.open(head);
    if (!open) return;
    const seen = new Map<string, Token>();
    const sched: Mutable = {};
    this.locs.set('general.scheduler', { line: head.line, col: head.col, label: 'Scheduler' });
    this.body('General > Scheduler', open, head, (t) => {
      switch (t.text) {
        case 'Type': {
          seen.set('Type', t);
          const v = this.peek();
          const type = v.kind === 'word' ? v.text.toLowerCase() : '';
          if (v.kind === 'word' && v.cls === 'string' && (type === 'rr' || type === 'fifo')) {
            this.next();
            this.set(sched, 'type', type, 'general.scheduler.type', t);
            break;
          }
          this.err(v, `'Type' expects RR or FIFO, got ${Reader.got(v)}`);
          this.reported.add('general.scheduler');
          this.skipBadValue(t);
          break;
        }
        case 'Priority': {
          seen.set('Priority', t);
          const v = this.num(t, 'general.scheduler');
          if (v !== undefined) this.set(sched, 'priority', v, 'general.scheduler.priority', t);
          break;
        }
        default:
          this.unknownOption(t, 'General > Scheduler', ['Type', 'Priority']);
      }
    });
    if (seen.size === 0) {
      this.warn(
        head,
        "empty 'Scheduler' block: conntrackd would switch to SCHED_RR priority 99; ctsync leaves the scheduling policy alone",
      );
      return;
    }
    if (!seen.has('Priority')) {
      this.err(
        head,
        "'Scheduler' needs 'Priority' (1-99) with 'Type': conntrackd would use priority 0, which the kernel refuses for RR and FIFO",
      );
      this.reported.add('general.scheduler');
    } else if (!seen.has('Type')) {
      this.err(
        head,
        "'Scheduler' needs 'Type' (RR or FIFO) with 'Priority': conntrackd ignores a Priority without a Type",
      );
      this.reported.add('general.scheduler');
    }
    this.set(this.general, 'scheduler', sched, 'general.scheduler', head);
  }

  private filterBlock(head: Token): void {
    let from: 'userspace' | 'kernelspace' = 'userspace';
    if (this.peek().kind === 'word' && this.peek().text === 'From') {
      const fromTok = this.next();
      const v = this.peek();
      if (v.kind === 'word' && (v.text === 'Userspace' || v.text === 'Kernelspace')) {
        this.next();
        from = v.text === 'Userspace' ? 'userspace' : 'kernelspace';
      } else {
        this.err(v, `'From' expects Userspace or Kernelspace, got ${Reader.got(v)}`);
        if (v.kind === 'word' && v.line === fromTok.line) this.next();
      }
    }
    const filter = (this.general.filter ??= {}) as Mutable & FilterConfigInput;
    if (this.filterFrom && filter.from !== from) {
      this.warn(
        head,
        `this 'Filter' block filters from ${from}, the one at line ${this.filterFrom.line} from ${filter.from}; the last one wins, as in conntrackd`,
      );
    }
    this.filterFrom = head;
    filter.from = from;
    this.locs.set('general.filter', { line: head.line, col: head.col, label: 'Filter' });
    this.locs.set('general.filter.from', { line: head.line, col: head.col, label: 'Filter' });
    const open = this.open(head);
    if (!open) return;
    const ctx = 'General > Filter';
    this.body(ctx, open, head, (t) => {
      switch (t.text) {
        case 'Protocol':
        case 'Address':
        case 'State':
          this.filterSet(t, filter);
          break;
        default:
          this.unknownOption(t, ctx, ['Protocol', 'Address', 'State']);
      }
    });
  }

  // eslint-disable-next-line max-lines-per-function -- listed exception, to be split
  private filterSet(head: Token, filter: Mutable & FilterConfigInput): void {
    const p = this.peek();
    if (p.kind !== 'word' || (p.text !== 'Accept' && p.text !== 'Ignore')) {
      this.err(p, `'${head.text}' expects Accept or Ignore, got ${Reader.got(p)}`);
      if (p.kind === 'word' && p.line === head.line) this.next();
      if (this.peek().kind === '{') {
        this.next();
        this.skipBalanced();
      }
      return;
    }
    this.next();
    const mode: FilterMode = p.text === 'Accept' ? 'accept' : 'ignore';
    const key = head.text.toLowerCase() as 'protocol' | 'address' | 'state';
    const path = `general.filter.${key}`;
    const prev = this.filterSets.get(key);
    if (prev && prev.mode !== mode) {
      this.err(
        head,
        `'${head.text} ${p.text}' conflicts with '${head.text} ${prev.mode === 'accept' ? 'Accept' : 'Ignore'}' at line ${prev.tok.line}: conntrackd would apply ${p.text} to the entries of both lists`,
      );
      this.reported.add(path);
    } else if (prev) {
      this.warn(
        head,
        `'${head.text} ${p.text}' given again (first at line ${prev.tok.line}); the lists are merged, as in conntrackd`,
      );
    } else {
      this.filterSets.set(key, { mode, tok: head });
      this.locs.set(path, { line: head.line, col: head.col, label: `${head.text} ${p.text}` });
      this.locs.set(`${path}.mode`, { line: p.line, col: p.col, label: `${head.text} ${p.text}` });
    }
    const open = this.open(p);
    if (!open) return;
    const ctx = `General > Filter > ${head.text} ${p.text}`;
    if (key === 'protocol') {
      const set = (filter.protocol ??= { mode, protocols: [] });
      this.body(ctx, open, head, (t) => {
        let num: number | undefined;
        if (t.text === 'TCP' || t.text === 'UDP') num = t.text === 'TCP' ? 6 : 17;
        else if (t.cls === 'string') {
          num = protocolByName(t.text);
          if (num === undefined) {
            const ci = PROTOCOL_NAMES.find((n) => n.toLowerCase() === t.text.toLowerCase());
            const near = ci ?? (/^icmp-?v?6$/i.test(t.text) ? 'ipv6-icmp' : closest(t.text, PROTOCOL_NAMES));
            this.err(
              t,
              `unknown protocol '${t.text}' in ${ctx}${ci ? ` (names are case-sensitive, as in /etc/protocols: '${ci}')` : near ? ` (did you mean '${near}'?)` : ' (not in /etc/protocols)'}`,
            );
            return;
          }
        } else {
          this.err(
            t,
            `'Protocol' lists protocol names from /etc/protocols, got '${t.text}'${t.cls === 'number' ? ' (conntrackd does not accept numbers here)' : Reader.hint(t, 'name')}`,
          );
          return;
        }
        this.locs.set(`${path}.protocols[${set.protocols.length}]`, { line: t.line, col: t.col, label: t.text });
        set.protocols.push(num);
      });
    } else if (key === 'address') {
      const set = (filter.address ??= { mode });
      this.body(ctx, open, head, (t) => {
        if (t.text !== 'IPv4_address' && t.text !== 'IPv6_address') {
          this.unknownOption(t, ctx, ['IPv4_address', 'IPv6_address']);
          return;
        }
        const v6 = t.text === 'IPv6_address';
        const list = v6 ? (set.ipv6 ??= []) : (set.ipv4 ??= []);
        const itemPath = `${path}.${v6 ? 'ipv6' : 'ipv4'}[${list.length}]`;
        const a = this.addr(t, v6, itemPath, true);
        if (a === undefined) return;
        this.locs.set(itemPath, { line: t.line, col: t.col, label: t.text });
        list.push(a);
      });
    } else {
      const set = (filter.state ??= { mode, tcpStates: [] });
      let pending: Token[] = [];
      this.body(ctx, open, head, (t) => {
        const st = TCP_STATE_WORDS[t.text];
        if (st) {
          pending.push(t);
          return;
        }
        if (t.text === 'for') {
          const tcp = this.peek();
          if (tcp.kind === 'word' && tcp.text === 'TCP') {
            this.next();
            for (const s of pending) {
              this.locs.set(`${path}.tcpStates[${set.tcpStates.length}]`, { line: s.line, col: s.col, label: s.text });
              set.tcpStates.push(TCP_STATE_WORDS[s.text]!);
            }
          } else {
            this.err(
              tcp,
              `'for' must be followed by 'TCP' (conntrackd filters TCP states only), got ${Reader.got(tcp)}`,
            );
            this.reported.add(path);
            if (tcp.kind === 'word' && tcp.line === t.line) this.next();
          }
          pending = [];
          return;
        }
        const near = closest(t.text, Object.keys(TCP_STATE_WORDS));
        this.err(
          t,
          `unknown TCP state '${t.text}' in ${ctx} (expected ${Object.keys(TCP_STATE_WORDS).join(', ')}${near ? `; did you mean '${near}'?` : ''})`,
        );
      });
      if (pending.length > 0) {
        this.err(
          pending[0]!,
          `the states in '${head.text} ${p.text}' must end with 'for TCP' (e.g. 'ESTABLISHED CLOSED for TCP')`,
        );
        this.reported.add(path);
      }
    }
  }

  // ------------------------------------------------------------------------- model output

  model(): CtsyncConfigInput {
    const sync = this.sync as unknown as CtsyncConfigInput['sync'];
    const out: CtsyncConfigInput = { sync: { mode: 'ftfw', ...sync, channels: sync.channels as ChannelInput[] } };
    if (Object.keys(this.general).length > 0) out.general = this.general as CtsyncConfigInput['general'];
    const helpers = this.helperSections.helpers;
    if (helpers.length > 0) out.helpers = helpers.map((h) => h.helper);
    helpers.forEach((h, i) => this.locs.set(`helpers[${i}]`, { line: h.at.line, col: h.at.col, label: 'Type' }));
    return out;
  }

  /** A model-level problem (from the schema or lint) placed at the option that set the value. */
  place(p: KeyedProblem): ConfigProblem {
    let path = p.path;
    let loc = this.locs.get(path);
    while (!loc && path !== '') {
      path = path.replace(/(\.[^.[\]]+|\[[^\]]*\])$/, '');
      if (path === p.path) break;
      loc = this.locs.get(path);
    }
    const where = loc ?? { line: 1, col: 1, label: '' };
    const exact = path === p.path && loc;
    const related = p.related === undefined ? undefined : this.locs.get(p.related);
    const tail =
      p.related === undefined ? '' : related ? ` (first at line ${related.line})` : ` (first at ${p.related})`;
    const message = exact
      ? `'${where.label}' ${p.message}${tail}`
      : `${where.label ? `in '${where.label}': ` : ''}${p.path} ${p.message}${tail}`;
    return { source: this.source, line: where.line, column: where.col, message };
  }

  isReported(path: string): boolean {
    for (const r of this.reported) if (path === r || path.startsWith(`${r}.`) || path.startsWith(`${r}[`)) return true;
    return false;
  }
}

/**
 * Parses conntrackd.conf text into ctsync's (input) model and validates it with the same schema as
 * the JSON config. Throws a ConfigError listing every problem; returns the warnings otherwise.
 */
export function parseConntrackdConf(text: string, source = 'conntrackd.conf'): ConntrackdConfResult {
  const lexProblems: LexProblem[] = [];
  const r = new Reader(tokenize(text, lexProblems), source);
  r.parse();
  const config = r.model();
  const errors: ConfigProblem[] = [
    ...lexProblems.map((p) => ({ source, line: p.line, column: p.col, message: p.message })),
    ...r.errors,
  ];
  for (const p of checkConfig(config)) if (!r.isReported(p.path)) errors.push(r.place(p));
  if (errors.length > 0) {
    errors.sort((a, b) => a.line! - b.line! || a.column! - b.column!);
    throw new ConfigError(errors);
  }
  const warnings = [...r.warnings];
  for (const p of lintConfig(withDefaults(config))) warnings.push(r.place(p));
  warnings.sort((a, b) => a.line! - b.line! || a.column! - b.column!);
  return { config, warnings, place: (p) => r.place(p) };
}
