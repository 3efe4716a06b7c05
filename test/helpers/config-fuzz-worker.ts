// Worker thread for test/unit/config/conntrackd-conf.fuzz.test.ts: reads each configuration text it is sent with
// the tokenizer, the conntrackd.conf reader and the format-detecting reader of load.ts, and
// answers with the verdict. It runs in a thread of its own so that the test can terminate it if
// one input makes the (synchronous) reader hang.
import { parentPort } from 'node:worker_threads';
import { tokenize, parseConntrackdConf, type LexProblem } from '../../src/config/conntrackd-conf.js';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';

export interface FuzzRequest {
  id: number;
  text: string;
}

export interface FuzzVerdict {
  id: number;
  /** 'config' or 'errors' are verdicts; 'broken' is a thrown non-ConfigError or a broken invariant. */
  verdict: 'config' | 'errors' | 'broken';
  detail?: string;
}

class Broken extends Error {}

function check(cond: boolean, what: string): void {
  if (!cond) throw new Broken(what);
}

/** The tokenizer's promises: it ends with 'eof', words are not empty, positions only grow. */
function checkTokens(text: string): void {
  const problems: LexProblem[] = [];
  const toks = tokenize(text, problems);
  check(toks.length <= text.length + 1, `${toks.length} tokens from ${text.length} characters`);
  check(toks[toks.length - 1]!.kind === 'eof', 'the last token is not eof');
  const lines = text.split('\n').length;
  let prev = { line: 1, col: 0 };
  for (const t of toks.slice(0, -1)) {
    check(t.kind !== 'eof', 'eof before the end');
    check(t.text.length > 0, `empty ${t.kind} token at ${t.line}:${t.col}`);
    check(
      t.line > prev.line || (t.line === prev.line && t.col > prev.col),
      `token at ${t.line}:${t.col} after ${prev.line}:${prev.col}`,
    );
    prev = t;
  }
  for (const p of problems)
    check(p.line >= 1 && p.line <= lines && p.col >= 1 && p.message !== '', `lexer problem ${JSON.stringify(p)}`);
}

/** Runs `read`; a ConfigError must place every problem inside the text. */
function verdictOf(text: string, read: () => unknown): 'config' | 'errors' {
  try {
    read();
    return 'config';
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    const lines = text.split('\n').length;
    check(e.problems.length > 0, 'a ConfigError without problems');
    for (const p of e.problems) {
      check(p.message !== '', 'a problem without a message');
      if (p.line !== undefined)
        check(p.line >= 1 && p.line <= lines && (p.column ?? 1) >= 1, `problem outside the text: ${JSON.stringify(p)}`);
    }
    return 'errors';
  }
}

parentPort!.on('message', ({ id, text }: FuzzRequest) => {
  let answer: FuzzVerdict;
  try {
    checkTokens(text);
    verdictOf(text, () => parseConntrackdConf(text, 'fuzz.conf'));
    answer = { id, verdict: verdictOf(text, () => parseConfigText(text, 'fuzz.conf')) };
  } catch (e) {
    answer = { id, verdict: 'broken', detail: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  parentPort!.postMessage(answer);
});
parentPort!.postMessage('ready');
