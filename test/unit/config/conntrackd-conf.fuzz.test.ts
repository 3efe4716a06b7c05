// Fuzzing the configuration readers: whatever the text, the tokenizer, the conntrackd.conf reader
// and the format-detecting reader of load.ts must end in a verdict (a configuration, or a
// ConfigError listing problems placed inside the text), never another exception and never a hang.
//
// Inputs: random text over an alphabet rich in control characters, Unicode spaces (every
// character JavaScript's \s matches), invalid UTF-8 and conntrackd.conf syntax; token soup; byte
// mutations of the real configurations (test/fixtures/conntrackd/*.conf, etc/ctsync.conf,
// etc/ctsync.json); and deep nesting.
//
// The reader is synchronous, so a hang cannot be interrupted by mocha's timeout: the inputs are read
// in a worker thread (test/helpers/config-fuzz-worker.ts) with a memory limit, and a watchdog here
// terminates it when one input takes longer than HANG_BOUND_MS. Either way the test fails with the
// offending input, JSON-escaped.
import { strict as assert } from 'node:assert';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { KEYWORDS } from '../../../src/config/conntrackd-conf.js';
import type { FuzzVerdict } from '../../helpers/config-fuzz-worker.js';
import { repoRoot } from '../../helpers/fakes.js';

/** Far above what any input here takes (the longest, 30000 repetitions, a few hundred ms): only a hang gets near it. */
const HANG_BOUND_MS = 5000;
/** The unfixed tokenizer of issue 13 grew by over 100 MB a second (2.5 GB in 20 s); this stops it early. */
const MEMORY_LIMIT_MB = 256;
const RUNS = Number(process.env.FUZZ_RUNS ?? 1000);

/** `text` as a JSON string with every character outside printable ASCII escaped (U+00A0 is invisible otherwise). */
const escaped = (text: string) =>
  JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

/** The input for a failure message, JSON-escaped; a long one is cut there and saved whole to a file. */
function shown(text: string): string {
  const limit = 2000;
  if (text.length <= limit) return escaped(text);
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ctsync-config-fuzz-')), 'input.conf');
  fs.writeFileSync(file, text);
  return `${escaped(text.slice(0, limit))}… (${text.length} characters; the whole input is in ${file})`;
}

/** Runs the readers in a worker thread and gives each input HANG_BOUND_MS to reach a verdict. */
const startReaderThread = () =>
  new Worker(new URL('../../helpers/config-fuzz-worker.js', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: MEMORY_LIMIT_MB },
  });

class WatchedReader {
  private worker?: Promise<Worker>;
  private seq = 0;

  /** `start` makes a thread that posts one message when ready, then answers each FuzzRequest. */
  constructor(
    private readonly boundMs = HANG_BOUND_MS,
    private readonly start = startReaderThread,
  ) {}

  private started(): Promise<Worker> {
    this.worker ??= new Promise((resolve, reject) => {
      const w = this.start();
      w.once('message', () => resolve(w));
      w.once('error', reject);
    });
    return this.worker;
  }

  async read(text: string): Promise<FuzzVerdict> {
    const worker = await this.started();
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const settle = (then: () => void) => {
        clearTimeout(timer);
        worker.off('message', onMessage).off('error', onError).off('exit', onExit);
        then();
      };
      const fail = (why: string) => {
        this.worker = undefined;
        void worker.terminate();
        reject(new Error(`${why}, on input ${shown(text)}`));
      };
      const timer = setTimeout(
        () => settle(() => fail(`no verdict within ${this.boundMs} ms (the reader hangs; its thread was terminated)`)),
        this.boundMs,
      );
      const onMessage = (m: FuzzVerdict) => {
        if (m.id === id) settle(() => resolve(m));
      };
      const onError = (e: Error) => settle(() => fail(`the reader's thread failed: ${e.message}`));
      const onExit = (code: number) => settle(() => fail(`the reader's thread exited with code ${code}`));
      worker.on('message', onMessage).on('error', onError).on('exit', onExit);
      worker.postMessage({ id, text });
    });
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    if (w) await (await w).terminate();
  }
}

// ---------------------------------------------------------------- arbitraries

/** Every UTF-16 code unit JavaScript's \s matches: the class of characters issue 13 hung on. */
const JS_WHITESPACE = Array.from({ length: 0x10000 }, (_, c) => String.fromCharCode(c)).filter((c) => /\s/.test(c));
const STRAY = [
  ...JS_WHITESPACE,
  '\0',
  '\x01',
  '\x08',
  '\x0e',
  '\x1b',
  '\x1f',
  '\x7f',
  '\x85',
  '\x9f',
  '\u200b',
  '\u200c',
  '\u200d',
  '\u2060',
  '\ufffd',
];
const SYNTAX = [' ', ' ', '\t', '\n', '\n', '\r', '{', '}', '#', '/', '"', '.', ':', '-'];

const char = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)) },
  { weight: 4, arbitrary: fc.constantFrom(...SYNTAX) },
  { weight: 3, arbitrary: fc.constantFrom(...STRAY) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0x9f }).map((c) => String.fromCharCode(c)) },
  { weight: 1, arbitrary: fc.constantFrom('é', 'ß', 'е', '\u{1F600}', '\ud800', '\udfff') },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) },
);

const randomText = fc.string({ unit: char, maxLength: 300 });

const word = fc.oneof(
  fc.constantFrom(...KEYWORDS),
  fc.constantFrom(
    '{',
    '}',
    '{',
    '}',
    'on',
    'off',
    'FTFW',
    'ALARM',
    '3780',
    '-5',
    '99999999999',
    '192.0.2.1',
    '198.51.100.0/24',
    'fe80::1',
    'ae0',
    'eth2',
    'tcp',
    '/var/run/x',
    '/x}',
    '/x\f',
    '# comment\n',
    '"x"',
  ),
  fc.string({ unit: char, maxLength: 6 }),
);
const separator = fc.oneof(fc.constantFrom(' ', ' ', '\n', '\t', '\r\n', ''), fc.constantFrom(...STRAY));
const tokenSoup = fc
  .array(fc.tuple(word, separator), { maxLength: 80 })
  .map((parts) => parts.map(([w, s]) => w + s).join(''));

const SEED_FILES = [
  ...fs
    .readdirSync(path.join(repoRoot(), 'test/fixtures/conntrackd'))
    .filter((f) => f.endsWith('.conf'))
    .map((f) => `test/fixtures/conntrackd/${f}`),
  'etc/ctsync.conf',
  'etc/ctsync.json',
];
/** The files as bytes, one char per byte (latin1), so that mutations can break UTF-8 sequences. */
const SEED_BYTES = new Map(SEED_FILES.map((f) => [f, fs.readFileSync(path.join(repoRoot(), f)).toString('latin1')]));

/** Bytes to insert: any byte, or the UTF-8 encoding of a stray character or a piece of syntax. */
const piece = fc.oneof(
  fc.integer({ min: 0, max: 255 }).map((b) => String.fromCharCode(b)),
  fc
    .constantFrom(...STRAY, ...SYNTAX, 'Sync {', 'General {', '}\n}\n')
    .map((s) => Buffer.from(s, 'utf8').toString('latin1')),
);
const mutation = fc.record({
  op: fc.constantFrom('insert', 'insert', 'delete', 'replace', 'duplicate line', 'delete line', 'cut'),
  at: fc.nat(),
  len: fc.integer({ min: 1, max: 40 }),
  piece,
});
type Mutation = typeof mutation extends fc.Arbitrary<infer M> ? M : never;

function mutate(bytes: string, m: Mutation): string {
  const at = m.at % (bytes.length + 1);
  switch (m.op) {
    case 'insert':
      return bytes.slice(0, at) + m.piece + bytes.slice(at);
    case 'delete':
      return bytes.slice(0, at) + bytes.slice(at + m.len);
    case 'replace':
      return bytes.slice(0, at) + m.piece + bytes.slice(at + 1);
    case 'cut':
      return bytes.slice(0, at);
    default: {
      const lines = bytes.split('\n');
      const k = m.at % lines.length;
      if (m.op === 'duplicate line') lines.splice(k, 0, lines[k]!);
      else lines.splice(k, 1);
      return lines.join('\n');
    }
  }
}

/** A real configuration after 1-6 byte mutations, decoded as load.ts decodes files (UTF-8). */
const mutatedFile = fc
  .tuple(fc.constantFrom(...SEED_FILES), fc.array(mutation, { minLength: 1, maxLength: 6 }))
  .map(([file, ms]) => Buffer.from(ms.reduce(mutate, SEED_BYTES.get(file)!), 'latin1').toString('utf8'));

/** Deeply nested or long repeated text (recursion and quadratic work show up here). */
const deep = fc
  .tuple(
    fc.constantFrom(
      '{',
      '}',
      '[',
      '{"a":',
      '[{"sync":',
      'Sync {',
      'General { UNIX {',
      'Sync { UDP { Port',
      '#{\n',
      '\f',
      '\u00a0',
    ),
    fc.integer({ min: 1, max: 30000 }),
  )
  .map(([s, k]) => s.repeat(k));

// ---------------------------------------------------------------- properties

describe('config: fuzzing the readers (every input ends in a verdict)', function () {
  const reader = new WatchedReader();
  after(() => reader.close());

  const fuzz = (arb: fc.Arbitrary<string>, numRuns: number) =>
    fc.assert(
      fc.asyncProperty(arb, async (text) => {
        const v = await reader.read(text);
        if (v.verdict === 'broken') assert.fail(`${v.detail}\non input ${shown(text)}`);
      }),
      // No shrinking: each step would wait HANG_BOUND_MS again; the message has the whole input.
      { numRuns, endOnFailure: true },
    );

  it('random text with control characters, Unicode spaces and invalid UTF-8', () => fuzz(randomText, RUNS));
  it('token soup with stray separators', () => fuzz(tokenSoup, RUNS));
  it('byte mutations of the real configurations (fixtures and etc/)', () => fuzz(mutatedFile, RUNS));
  it('deep nesting and long repetitions', () => fuzz(deep, Math.ceil(RUNS / 50)));

  it('the watchdog reports a reader that never returns (not a stuck test)', async () => {
    // A thread that says it is ready and then never answers: the watchdog must fire and name the input.
    const hung = () =>
      new Worker("require('node:worker_threads').parentPort.postMessage('ready'); for (;;) {}", { eval: true });
    const fake = new WatchedReader(200, hung);
    await assert.rejects(
      fake.read('Port\f3780'),
      /^Error: no verdict within 200 ms \(the reader hangs; its thread was terminated\), on input "Port\\f3780"$/,
    );
    await fake.close();
  });
});
