// What `ctsync ct …` does (see ct.ts for the command line): the kernel tables over netlink,
// directly (no daemon). Loaded only when a `ct` command runs.
import fs from 'node:fs';
import { ConntrackClient, CpuStats, CreateFailure, CreateResult, DumpFilter } from '../netlink/conntrack-client.js';
import { ConntrackEvents } from '../netlink/conntrack-events.js';
import { AF_INET6 } from '../netlink/constants.js';
import { formatEntry, formatEvent, formatExpect, formatExpectEvent } from '../conntrack/format.js';
import { entryToJson } from '../conntrack/json.js';
import { parseEntries, parseExpects, type ParsedLines } from '../conntrack/jsonl.js';
import type { Entry, EventType, Expect } from '../conntrack/entry.js';
import { LineWriter, printError } from './output.js';
import { programOfPortId } from '../netlink/portid.js';

export interface ListOptions {
  json?: boolean;
  extended?: boolean;
  zone?: number;
  mark?: number;
  markMask?: number;
  family?: number;
}

export async function list(opts: ListOptions): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const out = new LineWriter();
  const filter: DumpFilter = { family: opts.family, zone: opts.zone, mark: opts.mark, markMask: opts.markMask };
  const json = opts.json;
  const extended = opts.extended;
  const n = await client.dump(
    filter,
    json ? (e) => out.line(entryToJson(e)) : (e) => out.line(formatEntry(e, { extended })),
  );
  out.flush();
  client.close();
  if (!json) process.stderr.write(`ctsync: ${n} flow entries have been shown.\n`);
}

export interface LoadOptions {
  replace?: boolean;
  update?: boolean;
  skipInvalid?: boolean;
  json?: boolean;
  quiet?: boolean;
}

/** Reads a file (or stdin for '-'); undefined (exit code 2, message printed) if it cannot. */
function readInput(file: string): { text: string; source: string } | undefined {
  const source = file === '-' ? 'stdin' : file;
  try {
    return { text: fs.readFileSync(file === '-' ? 0 : file, 'utf8'), source };
  } catch (err) {
    printError(`cannot read ${source}: ${(err as Error).message}`);
    process.exitCode = 2;
    return undefined;
  }
}

/** Prints the bad lines; false (exit code 2) when that means nothing may be loaded. */
function acceptParsed(errors: string[], skipInvalid: boolean | undefined): boolean {
  for (const e of errors) printError(e);
  if (errors.length && !skipInvalid) {
    printError(`${errors.length} invalid line(s): nothing loaded (use --skip-invalid to load the valid ones)`);
    process.exitCode = 2;
    return false;
  }
  return true;
}

/** Summary and exit code of a batched update (`load --update`). */
function reportUpdate(
  u: { updated: number; missing: number; failed: CreateFailure<unknown>[] },
  count: number,
  source: string,
  lines: number[],
  opts: LoadOptions,
): void {
  for (const f of u.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = { entries: count, updated: u.updated, missing: u.missing, failed: u.failed.length };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet)
    process.stderr.write(`ctsync: ${u.updated} updated, ${u.missing} not found, ${u.failed.length} failed\n`);
  if (u.failed.length || u.missing) process.exitCode = 1;
}

/** Summary and exit code of a batched create (`load`); `noun` names the items in the summary. */
function reportCreate(
  r: CreateResult<unknown>,
  count: number,
  invalid: number,
  seconds: number,
  source: string,
  lines: number[],
  opts: LoadOptions,
  noun: string,
): void {
  for (const f of r.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = {
    entries: count,
    created: r.created,
    existing: r.existing,
    replaced: r.replaced,
    failed: r.failed.length,
    invalid,
    seconds: Number(seconds.toFixed(6)),
  };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet) {
    process.stderr.write(
      `ctsync: ${r.created} created, ${r.existing} already existing, ${r.replaced} replaced, ${r.failed.length} failed` +
        `${invalid ? `, ${invalid} invalid lines skipped` : ''} (${count} ${noun} in ${seconds.toFixed(3)} s)\n`,
    );
  }
  if (r.failed.length || invalid || (r.existing && !opts.replace)) process.exitCode = 1;
}

/** How `load` puts one kind of item (flow entries, expectations) into the kernel. */
interface LoadKind<T> {
  /** What the summary calls the items. */
  noun: string;
  parse(text: string, source: string): Promise<ParsedLines<T>>;
  update(
    client: ConntrackClient,
    items: T[],
  ): Promise<{ updated: number; missing: number; failed: CreateFailure<unknown>[] }>;
  create(client: ConntrackClient, items: T[], replace: boolean | undefined): Promise<CreateResult<unknown>>;
}

const LOAD_ENTRIES: LoadKind<Entry> = {
  noun: 'entries',
  parse: async (text, source) => {
    const { entries, lines, errors } = await parseEntries(text, source);
    return { items: entries, lines, errors };
  },
  update: (client, items) => client.update(items),
  create: (client, items, replace) => client.create(items, { replace }),
};

const LOAD_EXPECTATIONS: LoadKind<Expect> = {
  noun: 'expectations',
  parse: parseExpects,
  update: (client, items) => client.updateExpect(items),
  create: (client, items, replace) => client.createExpect(items, { replace }),
};

/** `load` and `expect load`: the file's items created (or updated) in batches, then a summary. */
async function loadItems<T>(file: string, opts: LoadOptions, kind: LoadKind<T>): Promise<void> {
  const input = readInput(file);
  if (!input) return;
  const { source } = input;
  const { items, lines, errors } = await kind.parse(input.text, source);
  if (!acceptParsed(errors, opts.skipInvalid)) return;
  const client = new ConntrackClient({ blocking: true });
  const t0 = process.hrtime.bigint();
  if (opts.update) {
    const u = await kind.update(client, items);
    client.close();
    reportUpdate(u, items.length, source, lines, opts);
    return;
  }
  const r = await kind.create(client, items, opts.replace);
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  reportCreate(r, items.length, errors.length, seconds, source, lines, opts, kind.noun);
}

export function load(file: string, opts: LoadOptions): Promise<void> {
  return loadItems(file, opts, LOAD_ENTRIES);
}

export interface EventsOptions {
  json?: boolean;
  types?: EventType[];
  bufferSize?: number;
  count?: number;
  /** Conntrack events (default true). */
  conntrack?: boolean;
  /** Expectation events. */
  expect?: boolean;
}

export async function events(opts: EventsOptions): Promise<void> {
  const conntrack = opts.conntrack ?? true;
  // expectation groups are joined whole; the type filter applies to them here
  const ev = new ConntrackEvents({
    types: conntrack ? opts.types : [],
    expectations: opts.expect,
    rcvbuf: opts.bufferSize,
  });
  const out = new LineWriter(1, 0); // unbuffered: events are live
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    const stop = (): void => {
      ev.stop();
      ev.close();
      resolve();
    };
    const counted = (): void => {
      if (opts.count !== undefined && ++seen >= opts.count) stop();
    };
    ev.on('event', (type, e, portid) => {
      // like conntrack -E: name the program behind events a netlink request caused
      out.line(
        opts.json
          ? JSON.stringify({ type, ...e, ...(portid ? { portid } : {}) })
          : formatEvent(type, e, portid ? { portid, progname: programOfPortId(portid) } : undefined),
      );
      out.flush();
      counted();
    });
    ev.on('expect', (type, x, portid) => {
      if (opts.types && !opts.types.includes(type)) return;
      // conntrack -E expect prints no [USERSPACE] part; the JSON line keeps the port id
      out.line(
        opts.json
          ? JSON.stringify({ type, table: 'expect', ...x, ...(portid ? { portid } : {}) })
          : formatExpectEvent(type, x),
      );
      out.flush();
      counted();
    });
    ev.on('overrun', ({ bufferSize, count }) => {
      const relist = [conntrack ? "'ctsync ct list'" : '', opts.expect ? "'ctsync ct expect list'" : '']
        .filter(Boolean)
        .join(' and ');
      const msg = `event overrun: the kernel dropped events (receive buffer ${bufferSize} bytes, overrun #${count}); the table must be re-read with ${relist}`;
      if (opts.json) {
        out.line(JSON.stringify({ type: 'OVERRUN', bufferSize, count }));
        out.flush();
      }
      printError(msg);
    });
    ev.on('malformed', (err) => printError(`malformed event skipped: ${err.message}`));
    ev.on('error', (err) => {
      printError(err.message);
      process.exitCode = 1;
      stop();
    });
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  ev.start();
  await done;
}

/** `conntrack -S` layout: `cpu=N   \tname=value name=value `, or one JSON object per CPU. */
function printCpuStats(stats: CpuStats[], json: boolean | undefined): void {
  const out = new LineWriter();
  for (const { cpu, ...counters } of stats) {
    if (json) out.line(JSON.stringify({ cpu, ...counters }));
    else
      out.line(
        `cpu=${String(cpu).padEnd(4)}\t${Object.entries(counters)
          .map(([k, v]) => `${k}=${v} `)
          .join('')}`,
      );
  }
  out.flush();
}

export async function stats(opts: { json?: boolean; expect?: boolean }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const s = opts.expect ? await client.expectStats() : await client.cpuStats();
  client.close();
  printCpuStats(s, opts.json);
}

// ---------------------------------------------------------------- expectations

export async function expectList(opts: { json?: boolean; family?: number }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const out = new LineWriter();
  // few and small: plain JSON.stringify (decodeExpect already orders the fields)
  const n = await client.dumpExpect(
    { family: opts.family },
    opts.json ? (x) => out.line(JSON.stringify(x)) : (x) => out.line(formatExpect(x)),
  );
  out.flush();
  client.close();
  if (!opts.json) process.stderr.write(`ctsync: ${n} expectations have been shown.\n`);
}

export function expectLoad(file: string, opts: LoadOptions): Promise<void> {
  return loadItems(file, opts, LOAD_EXPECTATIONS);
}

export async function expectDelete(
  file: string,
  opts: { skipInvalid?: boolean; json?: boolean; quiet?: boolean },
): Promise<void> {
  const input = readInput(file);
  if (!input) return;
  const { source } = input;
  const { items, lines, errors } = await parseExpects(input.text, source);
  if (!acceptParsed(errors, opts.skipInvalid)) return;
  const client = new ConntrackClient({ blocking: true });
  const d = await client.deleteExpect(items);
  client.close();
  for (const f of d.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = {
    entries: items.length,
    deleted: d.deleted,
    missing: d.missing,
    failed: d.failed.length,
    invalid: errors.length,
  };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet)
    process.stderr.write(`ctsync: ${d.deleted} deleted, ${d.missing} not found, ${d.failed.length} failed\n`);
  if (d.failed.length || d.missing || errors.length) process.exitCode = 1;
}

export async function count(opts: { json?: boolean }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const c = await client.count();
  client.close();
  process.stdout.write(opts.json ? JSON.stringify(c) + '\n' : `${c.entries}\n`);
}

export async function flush(opts: { family?: number }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  await client.flush(opts.family);
  client.close();
  process.stderr.write('ctsync: connection tracking table has been emptied.\n');
}

export async function expectFlush(opts: { family?: number }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const n = await client.flushExpect(opts.family);
  client.close();
  if (opts.family === undefined) process.stderr.write('ctsync: expectation table has been emptied.\n');
  else
    process.stderr.write(
      `ctsync: ${n} ${opts.family === AF_INET6 ? 'ipv6' : 'ipv4'} expectations have been deleted.\n`,
    );
}
