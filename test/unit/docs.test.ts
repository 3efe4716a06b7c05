// The documentation stays true to the repository: no file names a place outside it, every
// section a file cites (`docs/ftfw-protocol.md §3`, or a bare § inside a document for its own
// sections) exists, every document a file names exists, and every link between the Markdown
// files resolves, anchors included.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The checkout: the nearest directory above this file that has a package.json. */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  while (!existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('no package.json above the test file');
    dir = up;
  }
  return dir;
}

const SKIP_DIRS = new Set(['.git', 'node_modules', 'dist', 'build']);

/** Repository-relative paths of the files in the checkout (tracked, and new files not ignored). */
function repoFiles(root: string): string[] {
  try {
    const out = execFileSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], {
      cwd: root,
      encoding: 'utf8',
    });
    return out.split('\0').filter((f) => f !== '' && existsSync(path.join(root, f)));
  } catch {
    // not a git checkout (an unpacked tarball): every file outside the build outputs
    const found: string[] = [];
    const walk = (rel: string): void => {
      for (const name of readdirSync(path.join(root, rel))) {
        if (SKIP_DIRS.has(name)) continue;
        const p = rel === '' ? name : `${rel}/${name}`;
        if (statSync(path.join(root, p)).isDirectory()) walk(p);
        else found.push(p);
      }
    };
    walk('');
    return found;
  }
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, each space a hyphen. */
export function headingSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

/** What a Markdown document offers to citations: its numbered sections and its anchors. */
export interface DocIndex {
  sections: Set<string>;
  anchors: Set<string>;
}

export function indexDoc(markdown: string): DocIndex {
  const sections = new Set<string>();
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*```/.test(line)) fenced = !fenced;
    const h = fenced ? null : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!h) continue;
    const num = /^(\d+(?:\.\d+)*)\.?\s/.exec(h[1]);
    if (num) sections.add(num[1]);
    const slug = headingSlug(h[1]);
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    anchors.add(n === 0 ? slug : `${slug}-${n}`);
  }
  return { sections, anchors };
}

/** Names of places outside the repository, and of the protocol reference that was never part of it. */
const OUTSIDE: ReadonlyArray<[RegExp, string]> = [
  [/\/work\//, 'a path under /work'],
  [/\.\.\/shared\b/, 'a path into the shared folder beside the checkout'],
  [/\bshared\/[\w.-]/, 'a file of the shared folder outside the repository'],
  [/\bspec\/ftfw/, 'the protocol reference outside the repository'],
  [/\bspec\s*§/, 'a "spec" section (cite docs/ftfw-protocol.md or docs/conntrackd-compat.md)'],
];

const isMarkdown = (file: string): boolean => file.endsWith('.md');

/**
 * Problems in one file's text: names of outside places, documents that do not exist, sections a
 * document does not have, links and anchors that lead nowhere. `docOf` indexes a document by its
 * repository-relative path (undefined: no such file).
 */
export function problemsIn(
  file: string,
  text: string,
  exists: (rel: string) => boolean,
  docOf: (rel: string) => DocIndex | undefined,
): string[] {
  const out: string[] = [];
  const dir = path.posix.dirname(file);
  // A document name is relative to the repository root (as code comments write them), or in
  // Markdown also to the document's folder (as its links are).
  const resolve = (name: string): string => {
    const local = path.posix.normalize(path.posix.join(dir, name));
    return isMarkdown(file) && exists(local) ? local : path.posix.normalize(name);
  };
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    const at = `${file}:${i + 1}`;
    for (const [re, what] of OUTSIDE) if (re.test(line)) out.push(`${at}: names ${what}: ${line.trim()}`);
    // document names and § citations, left to right: a § belongs to the document named last on
    // the line, else (in a document) to the document itself
    let current: string | undefined;
    for (const m of line.matchAll(/((?:[\w.-]+\/)*[\w.-]+\.md)(?![\w/])|§(\d+(?:\.\d+)*)/g)) {
      if (m[1] !== undefined) {
        const target = resolve(m[1]);
        if (target.startsWith('..') || !exists(target)) {
          out.push(`${at}: names ${m[1]}, which is not a file of the repository`);
          current = undefined;
        } else current = target;
        continue;
      }
      const doc = current ?? (isMarkdown(file) ? file : undefined);
      if (doc === undefined) {
        out.push(
          `${at}: \u00a7${m[2]} names no document (name the document first on the same line, e.g. docs/ftfw-protocol.md \u00a73)`,
        );
        continue;
      }
      const index = docOf(doc);
      if (!index?.sections.has(m[2])) out.push(`${at}: ${doc} has no section ${m[2]}`);
    }
    if (!isMarkdown(file)) return;
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const link = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // https:, mailto:
      const [target, anchor] = link.split('#', 2);
      const rel = target === '' ? file : path.posix.normalize(path.posix.join(dir, target));
      if (rel.startsWith('..') || !exists(rel)) {
        out.push(`${at}: link to ${link}: no such file in the repository`);
        continue;
      }
      if (anchor !== undefined && isMarkdown(rel) && !docOf(rel)?.anchors.has(anchor))
        out.push(`${at}: link to ${link}: ${rel} has no such heading`);
    }
  });
  return out;
}

/**
 * Repository paths the Markdown file `file` names in code spans (`src/sync/ftfw.ts`) that do not
 * exist: the map in ARCHITECTURE.md and the docs name files, and a move must not leave them stale.
 * Placeholders (NAME, *, …) and build outputs (dist/) are not paths.
 */
export function codeSpanPathProblems(file: string, text: string, exists: (rel: string) => boolean): string[] {
  const problems: string[] = [];
  const re = /`((?:src|test|tools|scripts|native|etc|keepalived|docs)\/[A-Za-z0-9_./-]*[A-Za-z0-9_])\/?`/g;
  for (const m of text.matchAll(re)) {
    const rel = m[1];
    if (/[A-Z]{3,}/.test(rel.replace(/README|ARCHITECTURE/g, ''))) continue; // a placeholder
    if (!exists(rel)) problems.push(`${file}: \`${rel}\`: no such file or folder in the repository`);
  }
  return problems;
}

describe('documentation: citations and links', () => {
  it('reads numbered sections and GitHub anchors from headings, not from code blocks', () => {
    const d = indexDoc(
      '# Title\n## 3. Datagrams and messages\n### 3.1 Packing `x`\n```\n## 9. not a heading\n```\n## Notes\n## Notes\n',
    );
    assert.deepStrictEqual([...d.sections], ['3', '3.1']);
    assert.deepStrictEqual([...d.anchors], ['title', '3-datagrams-and-messages', '31-packing-x', 'notes', 'notes-1']);
  });

  it('reports outside paths, unknown documents and sections, and broken links and anchors', () => {
    // (written with stand-ins, so that this file's own text passes the check below:
    // @ is the section sign, % the .md suffix, ~ the outside folder)
    const t = (s: string): string =>
      s
        .replace(/@/g, '\u00a7')
        .replace(/%/g, '.md')
        .replace(/~/g, '/wo' + 'rk/');
    const docs: Record<string, string> = { [t('docs/a%')]: '## 1. One\n### 1.2 Two\n' };
    const exists = (rel: string): boolean => rel in docs || rel === 'src/x.ts';
    const docOf = (rel: string): DocIndex | undefined => (rel in docs ? indexDoc(docs[rel]) : undefined);
    const check = (file: string, text: string): string[] =>
      problemsIn(file, t(text), exists, docOf).map((p) => p.replace(/^\S+: /, ''));
    assert.deepStrictEqual(check('src/x.ts', '// see docs/a% @1.2, @1 and @1.2\n'), []);
    assert.deepStrictEqual(check(t('docs/a%'), 'as @1.2 says; [one](#1-one), [code](../src/x.ts)\n'), []);
    assert.deepStrictEqual(
      check('src/x.ts', '// facts: ~elsewhere/ref%\n// see spec @4.2\n// see docs/a% @3, docs/b%\n'),
      [
        'names a path under /work: // facts: ' + t('~elsewhere/ref%'),
        'names ' + t('work/elsewhere/ref%') + ', which is not a file of the repository',
        'names a "spec" section (cite docs/ftfw-protocol.md or docs/conntrackd-compat.md): // see spec ' + t('@4.2'),
        t('@4.2 names no document (name the document first on the same line, e.g. docs/ftfw-protocol.md @3)'),
        t('docs/a% has no section 3'),
        'names ' + t('docs/b%') + ', which is not a file of the repository',
      ],
    );
    assert.deepStrictEqual(check(t('docs/a%'), '[x](b%) [y](#nope) [z](../../x%)\n'), [
      'names ' + t('b%') + ', which is not a file of the repository',
      'names ' + t('../../x%') + ', which is not a file of the repository',
      'link to ' + t('b%') + ': no such file in the repository',
      'link to #nope: ' + t('docs/a%') + ' has no such heading',
      'link to ' + t('../../x%') + ': no such file in the repository',
    ]);
  });

  it('reports a code span naming a path that is not there, not placeholders', () => {
    const exists = (rel: string): boolean => rel === 'src/sync' || rel === 'src/sync/ftfw.ts';
    const text = 'see `src/sync/ftfw.ts`, `src/sync/`, `src/sync/gone.ts`, `test/unit/NAME.test.ts`, `dist/x.js`';
    assert.deepStrictEqual(codeSpanPathProblems('README.md', text, exists), [
      'README.md: `src/sync/gone.ts`: no such file or folder in the repository',
    ]);
  });

  it('the paths the Markdown files name in code spans exist', () => {
    const root = repoRoot();
    const files = repoFiles(root);
    const present = new Set(files);
    const exists = (rel: string): boolean => present.has(rel) || files.some((f) => f.startsWith(`${rel}/`));
    const problems = files
      .filter((f) => isMarkdown(f) && !f.startsWith('test/'))
      .flatMap((f) => codeSpanPathProblems(f, readFileSync(path.join(root, f), 'utf8'), exists));
    assert.deepStrictEqual(problems, [], `\n${problems.join('\n')}\n`);
  });

  it('no file of the repository names a place outside it, and every citation and link resolves', () => {
    const root = repoRoot();
    const files = repoFiles(root);
    const present = new Set(files);
    const exists = (rel: string): boolean => present.has(rel) || files.some((f) => f.startsWith(`${rel}/`));
    const indexes = new Map<string, DocIndex>();
    const docOf = (rel: string): DocIndex | undefined => {
      if (!present.has(rel) || !isMarkdown(rel)) return undefined;
      let d = indexes.get(rel);
      if (!d) indexes.set(rel, (d = indexDoc(readFileSync(path.join(root, rel), 'utf8'))));
      return d;
    };
    const problems: string[] = [];
    for (const file of files) {
      const bytes = readFileSync(path.join(root, file));
      if (bytes.includes(0)) continue; // binary
      problems.push(...problemsIn(file, bytes.toString('utf8'), exists, docOf));
    }
    assert.deepStrictEqual(problems, [], `\n${problems.join('\n')}\n`);
  });
});
