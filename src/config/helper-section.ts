// conntrackd.conf's `Helper { Type <name> <family> <protocol> { … } … }` section, read into
// HelperConfig entries (helpers.ts). conntrackd 1.4.7 exits at the first problem here; every
// problem is an error at its place, with the fix, and the section is read to its end. Where
// conntrackd accepts something that cannot work (a policy it fills with zeros) it is an error too.
import type { Token } from './conntrackd-conf.js';
import {
  EXPECT_MAX_LIMIT,
  HELPER_NAMES,
  KNOWN_HELPERS,
  QUEUE_NUM_MAX,
  helperLabel,
  type HelperConfig,
  type HelperFamily,
  type HelperPolicy,
  type HelperProtocol,
} from './helpers.js';
import { closest } from './errors.js';

/** Where the reader's problems go. */
export interface HelperSink {
  err(t: Token, message: string): void;
  warn(t: Token, message: string): void;
}

/** A helper read from the file, with the `Type` token that declared it. */
export interface ReadHelper {
  helper: HelperConfig;
  at: Token;
}

const INT_MAX = 2147483647;
/** Words that open a section: met inside a block, the block's '}' is missing. */
const SECTIONS: ReadonlySet<string> = new Set(['General', 'Sync', 'Stats', 'Helper']);

const got = (t: Token): string => (t.kind === 'eof' ? 'end of file' : `'${t.text}'`);

/** Reads every `Helper` section of one file (several are merged, as in conntrackd). */
export class HelperSectionReader {
  readonly helpers: ReadHelper[] = [];
  private toks: readonly Token[] = [];
  private i = 0;

  constructor(private readonly sink: HelperSink) {}

  /** Reads the section whose `Helper` word is toks[start - 1]; returns the index after it. */
  read(toks: readonly Token[], start: number): number {
    this.toks = toks;
    this.i = start;
    const head = toks[start - 1]!;
    if (!this.open(head)) return this.i;
    this.body(head, (t) => {
      if (t.text === 'Type') this.type(t);
      else
        this.unknown(
          t,
          'Helper',
          "expected 'Type <name> <family> <protocol> { … }', e.g. 'Type rpc inet tcp { QueueNum 3 }'",
        );
    });
    return this.i;
  }

  // ---------------------------------------------------------------------------- plumbing

  private peek(): Token {
    return this.toks[this.i]!;
  }
  private next(): Token {
    const t = this.toks[this.i]!;
    if (t.kind !== 'eof') this.i++;
    return t;
  }

  private open(head: Token): boolean {
    if (this.peek().kind === '{') {
      this.next();
      return true;
    }
    this.sink.err(this.peek(), `expected '{' after '${head.text}', got ${got(this.peek())}`);
    return false;
  }

  /** Calls onWord for each word up to the '}' closing the block `head` opened. */
  private body(head: Token, onWord: (t: Token) => void): void {
    for (;;) {
      const t = this.peek();
      if (t.kind === 'eof') {
        this.sink.err(t, `unexpected end of file: '${head.text}' block at line ${head.line} is not closed`);
        return;
      }
      if (t.kind === 'word' && SECTIONS.has(t.text)) {
        this.sink.err(t, `'${head.text}' block at line ${head.line} is not closed before '${t.text}' (missing '}'?)`);
        return;
      }
      this.next();
      if (t.kind === '}') return;
      if (t.kind === '{') {
        this.sink.err(t, `unexpected '{' in ${head.text}`);
        this.skipBalanced();
        continue;
      }
      onWord(t);
    }
  }

  private skipBalanced(): void {
    let depth = 1;
    while (depth > 0) {
      const t = this.next();
      if (t.kind === 'eof') return;
      if (t.kind === '{') depth++;
      else if (t.kind === '}') depth--;
    }
  }

  /** An unknown word in a block: reported, and its value or block skipped. */
  private unknown(t: Token, ctx: string, expected: string): void {
    this.sink.err(t, `unknown option ${got(t)} in ${ctx} (${expected})`);
    const v = this.peek();
    if (v.kind === 'word' && v.line === t.line && !SECTIONS.has(v.text)) this.next();
    if (this.peek().kind === '{') {
      this.next();
      this.skipBalanced();
    }
  }

  /** A whole number after `opt` in [min, max]; `range` says what it is when out of range. */
  private number(opt: Token, min: number, max: number, range: string): number | undefined {
    const v = this.peek();
    if (v.kind !== 'word' || v.cls !== 'number') {
      this.sink.err(v, `'${opt.text}' expects ${range}, got ${got(v)}`);
      if (v.kind === 'word' && v.line === opt.line && !SECTIONS.has(v.text)) this.next();
      return undefined;
    }
    this.next();
    const n = v.text.replace(/^0+(?=.)/, '').length > 10 ? Infinity : Number(v.text);
    if (n < min || n > max || n > INT_MAX) {
      this.sink.err(v, `'${opt.text}' expects ${range}, got ${v.text}`);
      return undefined;
    }
    return n;
  }

  // ------------------------------------------------------------------------------- Type

  /** `Type <name> <family> <protocol> { … }`. */
  private type(head: Token): void {
    const words: Token[] = [];
    while (words.length < 3 && this.peek().kind === 'word' && !SECTIONS.has(this.peek().text)) words.push(this.next());
    const [nameTok, familyTok, protoTok] = words;
    const name = nameTok && this.helperName(nameTok);
    const family = familyTok && this.family(familyTok);
    const protocol = name && protoTok ? this.protocol(protoTok, name) : undefined;
    if (words.length < 3)
      this.sink.err(
        words.length > 0 ? words[words.length - 1]! : head,
        `'Type' needs a helper name, a family and a protocol, e.g. 'Type rpc inet tcp { QueueNum 3 }'`,
      );
    if (!this.open(head)) return;
    const settings = this.typeBody(head, name);
    if (!name || !family || !protocol || !settings) return;
    const helper: HelperConfig = { name, family, protocol, queueNum: settings.queueNum ?? 0 };
    if (settings.queueLen !== undefined) helper.queueLen = settings.queueLen;
    if (settings.policy) helper.policy = settings.policy;
    this.add(helper, head, settings.queueTok);
  }

  private helperName(t: Token): string | undefined {
    if (KNOWN_HELPERS[t.text]) return t.text;
    const lower = HELPER_NAMES.find((n) => n === t.text.toLowerCase());
    const near = lower ?? closest(t.text, HELPER_NAMES);
    this.sink.err(
      t,
      `unknown helper ${got(t)}: conntrackd 1.4.7 has ${HELPER_NAMES.join(', ')}${lower ? ` (names are lower-case: '${lower}')` : near ? ` (did you mean '${near}'?)` : ''}`,
    );
    return undefined;
  }

  private family(t: Token): HelperFamily | undefined {
    if (t.text === 'inet' || t.text === 'inet6') return t.text;
    this.sink.err(t, `the helper's family must be inet (IPv4) or inet6 (IPv6), got ${got(t)}`);
    return undefined;
  }

  private protocol(t: Token, name: string): HelperProtocol | undefined {
    const protocols = KNOWN_HELPERS[name]!.protocols;
    if ((protocols as readonly string[]).includes(t.text)) return t.text as HelperProtocol;
    const what =
      t.text === 'tcp' || t.text === 'udp'
        ? `conntrackd has no ${name} helper for ${t.text}`
        : `the helper's protocol must be tcp or udp, got ${got(t)}`;
    this.sink.err(t, `${what}: write '${protocols.map((p) => `Type ${name} inet ${p}`).join("' or '")}'`);
    return undefined;
  }

  /** The settings inside `Type … { }`; undefined when one of them was wrong (already reported). */
  private typeBody(
    head: Token,
    name: string | undefined,
  ): { queueNum?: number; queueTok?: Token; queueLen?: number; policy?: HelperPolicy } | undefined {
    const out: { queueNum?: number; queueTok?: Token; queueLen?: number; policy?: HelperPolicy } = {};
    const seen = new Map<string, Token>();
    let ok = true;
    const again = (t: Token): void => {
      const prev = seen.get(t.text);
      if (prev)
        this.sink.warn(
          t,
          `'${t.text}' is given again (previous at line ${prev.line}); the last one wins, as in conntrackd`,
        );
      seen.set(t.text, t);
    };
    this.body(head, (t) => {
      switch (t.text) {
        case 'QueueNum': {
          again(t);
          const n = this.number(t, 0, QUEUE_NUM_MAX, `an NFQUEUE number from 0 to ${QUEUE_NUM_MAX}`);
          if (n === undefined) ok = false;
          else [out.queueNum, out.queueTok] = [n, t];
          break;
        }
        case 'QueueLen': {
          again(t);
          const n = this.number(t, 0, INT_MAX, `the most packets the queue holds (0: the kernel's default)`);
          if (n === undefined) ok = false;
          else if (n === 0) delete out.queueLen;
          else out.queueLen = n;
          break;
        }
        case 'Policy': {
          again(t);
          const p = this.policy(t, name);
          if (p === undefined) ok = false;
          else out.policy = p;
          break;
        }
        default:
          this.unknown(t, `'Type' block at line ${head.line}`, "expected 'QueueNum', 'QueueLen' or 'Policy'");
          ok = false;
      }
    });
    return ok ? out : undefined;
  }

  /** `Policy <name> { ExpectMax n; ExpectTimeout s }`: both are needed (see below). */
  private policy(head: Token, helper: string | undefined): HelperPolicy | undefined {
    const nameTok = this.peek().kind === 'word' && !SECTIONS.has(this.peek().text) ? this.next() : undefined;
    let ok = true;
    if (!nameTok) {
      this.sink.err(head, `'Policy' needs the policy's name${helper ? `: 'Policy ${helper} { … }'` : ''}`);
      ok = false;
    } else if (helper && nameTok.text !== helper) {
      this.sink.err(
        nameTok,
        `unknown policy '${nameTok.text}' for the ${helper} helper: its only policy is '${helper}' (write 'Policy ${helper} { … }')`,
      );
      ok = false;
    }
    if (!this.open(head)) return undefined;
    const values: Partial<HelperPolicy> = {};
    this.body(head, (t) => {
      if (t.text === 'ExpectMax') {
        const n = this.number(
          t,
          1,
          EXPECT_MAX_LIMIT,
          `the most expectations per connection, 1 to ${EXPECT_MAX_LIMIT} (0 lets the helper set up none; the kernel refuses more than ${EXPECT_MAX_LIMIT})`,
        );
        if (n === undefined) ok = false;
        else values.expectMax = n;
      } else if (t.text === 'ExpectTimeout') {
        const n = this.number(t, 1, INT_MAX, 'seconds an expectation lives, at least 1 (0 expires it at once)');
        if (n === undefined) ok = false;
        else values.expectTimeout = n;
      } else {
        this.unknown(t, `'Policy' block at line ${head.line}`, "expected 'ExpectMax' and 'ExpectTimeout'");
        ok = false;
      }
    });
    // conntrackd replaces the whole built-in policy with what the block gives, zeros included:
    // a block without ExpectTimeout makes expectations expire at once, one without ExpectMax
    // allows none. conntrackd refuses only an empty block.
    const missing = (['ExpectMax', 'ExpectTimeout'] as const).filter(
      (k) => values[k === 'ExpectMax' ? 'expectMax' : 'expectTimeout'] === undefined,
    );
    if (ok && missing.length > 0) {
      this.sink.err(
        head,
        `'Policy' needs ${missing.map((k) => `'${k}'`).join(' and ')} (e.g. 'ExpectMax 1' and 'ExpectTimeout 300'): conntrackd would set ${missing.length > 1 ? 'them' : 'it'} to 0, and the helper would set up no working expectation`,
      );
      ok = false;
    }
    return ok ? (values as HelperPolicy) : undefined;
  }

  /** Adds a helper, refusing a second `Type` of the same helper or a queue already in use. */
  private add(helper: HelperConfig, at: Token, queueTok: Token | undefined): void {
    const label = helperLabel(helper);
    const same = this.helpers.find((h) => helperLabel(h.helper) === label);
    if (same) {
      this.sink.err(at, `'${label}' is given again (first at line ${same.at.line}): remove one`);
      return;
    }
    const queue = this.helpers.find((h) => h.helper.queueNum === helper.queueNum);
    if (queue) {
      this.sink.err(
        queueTok ?? at,
        `'${label}' reads NFQUEUE ${helper.queueNum}${queueTok ? '' : " (no 'QueueNum': 0)"}, which '${helperLabel(queue.helper)}' at line ${queue.at.line} reads already: give each helper its own 'QueueNum'`,
      );
      return;
    }
    this.helpers.push({ helper, at });
  }
}
