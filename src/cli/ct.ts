// `ctsync ct …`: the kernel tables (conntrack, `ct expect …` expectations), directly (no daemon).
// Thin: parse, call the engine, print.
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConntrackClient, CpuStats, CreateFailure, CreateResult, DumpFilter } from '../netlink/conntrack-client.js';
import { ConntrackEvents } from '../netlink/conntrack-events.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { formatEntry, formatEvent, formatExpect, formatExpectEvent } from '../conntrack/format.js';
import { entryToJson } from '../conntrack/json.js';
import { parseEntries, parseExpects } from '../conntrack/jsonl.js';
import type { EventType } from '../conntrack/entry.js';
import { LineWriter, printError } from './output.js';
import { programOfPortId } from '../netlink/portid.js';

function integer(max: number, what: string) {
  return (v: string): number => {
    const n = /^(0x[0-9a-f]+|[0-9]+)$/i.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > max) throw new InvalidArgumentError(`${what} must be an integer 0..${max}, got '${v}'`);
    return n;
  };
}

function family(v: string): number {
  if (v === 'ipv4' || v === 'inet') return AF_INET;
  if (v === 'ipv6' || v === 'inet6') return AF_INET6;
  throw new InvalidArgumentError(`family must be ipv4 or ipv6, got '${v}'`);
}

interface ListOptions {
  json?: boolean;
  extended?: boolean;
  zone?: number;
  mark?: number;
  markMask?: number;
  family?: number;
}

async function list(opts: ListOptions): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const out = new LineWriter();
  const filter: DumpFilter = { family: opts.family, zone: opts.zone, mark: opts.mark, markMask: opts.markMask };
  const json = opts.json;
  const extended = opts.extended;
  const n = await client.dump(filter, json ? (e) => out.line(entryToJson(e)) : (e) => out.line(formatEntry(e, { extended })));
  out.flush();
  client.close();
  if (!json) process.stderr.write(`ctsync: ${n} flow entries have been shown.\n`);
}

interface LoadOptions {
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
function reportUpdate(u: { updated: number; missing: number; failed: CreateFailure<unknown>[] }, count: number, source: string, lines: number[], opts: LoadOptions): void {
  for (const f of u.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = { entries: count, updated: u.updated, missing: u.missing, failed: u.failed.length };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet) process.stderr.write(`ctsync: ${u.updated} updated, ${u.missing} not found, ${u.failed.length} failed\n`);
  if (u.failed.length || u.missing) process.exitCode = 1;
}

/** Summary and exit code of a batched create (`load`); `noun` names the items in the summary. */
function reportCreate(r: CreateResult<unknown>, count: number, invalid: number, seconds: number, source: string, lines: number[], opts: LoadOptions, noun: string): void {
  for (const f of r.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = {
    entries: count, created: r.created, existing: r.existing, replaced: r.replaced,
    failed: r.failed.length, invalid, seconds: Number(seconds.toFixed(6)),
  };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet) {
    process.stderr.write(`ctsync: ${r.created} created, ${r.existing} already existing, ${r.replaced} replaced, ${r.failed.length} failed` +
      `${invalid ? `, ${invalid} invalid lines skipped` : ''} (${count} ${noun} in ${seconds.toFixed(3)} s)\n`);
  }
  if (r.failed.length || invalid || (r.existing && !opts.replace)) process.exitCode = 1;
}

async function load(file: string, opts: LoadOptions): Promise<void> {
  const input = readInput(file);
  if (!input) return;
  const { source } = input;
  const { entries, lines, errors } = await parseEntries(input.text, source);
  if (!acceptParsed(errors, opts.skipInvalid)) return;
  const client = new ConntrackClient({ blocking: true });
  const t0 = process.hrtime.bigint();
  if (opts.update) {
    const u = await client.update(entries);
    client.close();
    reportUpdate(u, entries.length, source, lines, opts);
    return;
  }
  const r = await client.create(entries, { replace: opts.replace });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  reportCreate(r, entries.length, errors.length, seconds, source, lines, opts, 'entries');
}

interface EventsOptions {
  json?: boolean;
  types?: EventType[];
  bufferSize?: number;
  count?: number;
  /** Conntrack events (default true). */
  conntrack?: boolean;
  /** Expectation events. */
  expect?: boolean;
}

function eventTypes(v: string): EventType[] {
  const out: EventType[] = [];
  for (const t of v.split(',')) {
    const u = t.trim().toUpperCase();
    if (u !== 'NEW' && u !== 'UPDATE' && u !== 'DESTROY') throw new InvalidArgumentError(`event type must be new, update or destroy, got '${t}'`);
    out.push(u);
  }
  return out;
}

async function events(opts: EventsOptions): Promise<void> {
  const conntrack = opts.conntrack ?? true;
  // expectation groups are joined whole; the type filter applies to them here
  const ev = new ConntrackEvents({ types: conntrack ? opts.types : [], expectations: opts.expect, rcvbuf: opts.bufferSize });
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
      out.line(opts.json ? JSON.stringify({ type, ...e, ...(portid ? { portid } : {}) }) : formatEvent(type, e, portid ? { portid, progname: programOfPortId(portid) } : undefined));
      out.flush();
      counted();
    });
    ev.on('expect', (type, x, portid) => {
      if (opts.types && !opts.types.includes(type)) return;
      // conntrack -E expect prints no [USERSPACE] part; the JSON line keeps the port id
      out.line(opts.json ? JSON.stringify({ type, table: 'expect', ...x, ...(portid ? { portid } : {}) }) : formatExpectEvent(type, x));
      out.flush();
      counted();
    });
    ev.on('overrun', ({ bufferSize, count }) => {
      const relist = [conntrack ? "'ctsync ct list'" : '', opts.expect ? "'ctsync ct expect list'" : ''].filter(Boolean).join(' and ');
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
    else out.line(`cpu=${String(cpu).padEnd(4)}\t${Object.entries(counters).map(([k, v]) => `${k}=${v} `).join('')}`);
  }
  out.flush();
}

async function stats(opts: { json?: boolean; expect?: boolean }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const s = opts.expect ? await client.expectStats() : await client.cpuStats();
  client.close();
  printCpuStats(s, opts.json);
}

// ---------------------------------------------------------------- expectations

async function expectList(opts: { json?: boolean; family?: number }): Promise<void> {
  const client = new ConntrackClient({ blocking: true });
  const out = new LineWriter();
  // few and small: plain JSON.stringify (decodeExpect already orders the fields)
  const n = await client.dumpExpect({ family: opts.family }, opts.json ? (x) => out.line(JSON.stringify(x)) : (x) => out.line(formatExpect(x)));
  out.flush();
  client.close();
  if (!opts.json) process.stderr.write(`ctsync: ${n} expectations have been shown.\n`);
}

async function expectLoad(file: string, opts: LoadOptions): Promise<void> {
  const input = readInput(file);
  if (!input) return;
  const { source } = input;
  const parsed = await parseExpects(input.text, source);
  if (!acceptParsed(parsed.errors, opts.skipInvalid)) return;
  const { items: list, lines, errors } = parsed;
  const client = new ConntrackClient({ blocking: true });
  const t0 = process.hrtime.bigint();
  if (opts.update) {
    const u = await client.updateExpect(list);
    client.close();
    reportUpdate(u, list.length, source, lines, opts);
    return;
  }
  const r = await client.createExpect(list, { replace: opts.replace });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  reportCreate(r, list.length, errors.length, seconds, source, lines, opts, 'expectations');
}

async function expectDelete(file: string, opts: { skipInvalid?: boolean; json?: boolean; quiet?: boolean }): Promise<void> {
  const input = readInput(file);
  if (!input) return;
  const { source } = input;
  const { items, lines, errors } = await parseExpects(input.text, source);
  if (!acceptParsed(errors, opts.skipInvalid)) return;
  const client = new ConntrackClient({ blocking: true });
  const d = await client.deleteExpect(items);
  client.close();
  for (const f of d.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = { entries: items.length, deleted: d.deleted, missing: d.missing, failed: d.failed.length, invalid: errors.length };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet) process.stderr.write(`ctsync: ${d.deleted} deleted, ${d.missing} not found, ${d.failed.length} failed\n`);
  if (d.failed.length || d.missing || errors.length) process.exitCode = 1;
}

function expectCommand(): Command {
  const exp = new Command('expect').description('work on the kernel expectation table directly (no daemon)');

  exp.command('list')
    .description('list expectations, laid out like `conntrack -L expect` (which shows one family: ipv4 unless -f ipv6)')
    .option('--json', 'one JSON object per line, every field')
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family (default: both)').argParser(family))
    .action(expectList);

  exp.command('load')
    .description('create every expectation of a `ct expect list --json` file (or - for stdin), in batches; each needs its master conntrack, with a helper, in the table')
    .argument('<file>', 'JSON-lines file, one expectation per line; - reads stdin')
    .option('--replace', 'delete and re-create expectations that already exist')
    .option('--update', 'set the timeout of existing expectations instead (the kernel gives new ones the helper\'s timeout, whatever the file says)')
    .option('--skip-invalid', 'load the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action(expectLoad);

  exp.command('delete')
    .description('delete every expectation of a JSON-lines file (or - for stdin), found by tuple (and zone)')
    .argument('<file>', 'JSON-lines file, one expectation per line; - reads stdin')
    .option('--skip-invalid', 'delete the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action(expectDelete);

  exp.command('flush')
    .description('delete every expectation, like `conntrack -F expect`')
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family (deleted one by one: the kernel flush ignores the family)').argParser(family))
    .action(async (opts: { family?: number }) => {
      const client = new ConntrackClient({ blocking: true });
      const n = await client.flushExpect(opts.family);
      client.close();
      if (opts.family === undefined) process.stderr.write('ctsync: expectation table has been emptied.\n');
      else process.stderr.write(`ctsync: ${n} ${opts.family === AF_INET6 ? 'ipv6' : 'ipv4'} expectations have been deleted.\n`);
    });

  exp.command('stats')
    .description('per-CPU expectation counters, like `conntrack -S expect`')
    .option('--json', 'one JSON object per CPU')
    .action((opts: { json?: boolean }) => stats({ ...opts, expect: true }));

  exp.command('events')
    .description('print expectation events live, like `conntrack -E expect` (the kernel sends NEW and DESTROY)')
    .option('--json', 'one JSON object per event: {type, table: "expect", ...expectation}')
    .addOption(new Option('-e, --event-mask <types>', 'comma list of new,destroy').argParser(eventTypes).default(undefined))
    .addOption(new Option('--buffer-size <bytes>', 'socket receive buffer (default 16 MiB)').argParser(integer(2 ** 31 - 1, 'buffer size')))
    .addOption(new Option('--count <n>', 'exit after n events').argParser(integer(2 ** 31 - 1, 'count')))
    .action((opts: EventsOptions & { eventMask?: EventType[] }) => events({ ...opts, types: opts.eventMask, conntrack: false, expect: true }));

  return exp;
}

export function ctCommand(): Command {
  const ct = new Command('ct').description('work on the kernel conntrack and expectation tables directly (no daemon)');

  ct.command('list')
    .description('list the table, laid out like `conntrack -L`')
    .option('--json', 'one JSON object per line, every field')
    .option('-o, --extended', 'prefix the layer-3 protocol like `conntrack -L -o extended`')
    .addOption(new Option('--zone <n>', 'only entries in this zone').argParser(integer(65535, 'zone')))
    .addOption(new Option('--mark <n>', 'only entries with this mark (see --mark-mask)').argParser(integer(0xffffffff, 'mark')))
    .addOption(new Option('--mark-mask <n>', 'mask applied to the mark before comparing').argParser(integer(0xffffffff, 'mark mask')))
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family').argParser(family))
    .action(list);

  ct.command('count')
    .description('number of entries in the table, like `conntrack -C`')
    .option('--json', 'also print the table limit, as JSON')
    .action(async (opts: { json?: boolean }) => {
      const client = new ConntrackClient({ blocking: true });
      const c = await client.count();
      client.close();
      process.stdout.write(opts.json ? JSON.stringify(c) + '\n' : `${c.entries}\n`);
    });

  ct.command('stats')
    .description('per-CPU counters, like `conntrack -S` (or `conntrack -S expect` with --expect)')
    .option('--json', 'one JSON object per CPU')
    .option('--expect', 'the expectation counters instead')
    .action(stats);

  ct.command('flush')
    .description('delete every entry, like `conntrack -F`')
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family').argParser(family))
    .action(async (opts: { family?: number }) => {
      const client = new ConntrackClient({ blocking: true });
      await client.flush(opts.family);
      client.close();
      process.stderr.write('ctsync: connection tracking table has been emptied.\n');
    });

  ct.command('load')
    .description('create every entry of a `ct list --json` file (or - for stdin), in batches')
    .argument('<file>', 'JSON-lines file, one entry per line; - reads stdin')
    .option('--replace', 'delete and re-create entries that already exist')
    .option('--update', 'update existing entries instead (timeout, mark, protocol state, labels)')
    .option('--skip-invalid', 'load the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action(load);

  ct.command('events')
    .description('print conntrack events live, like `conntrack -E`')
    .option('--json', 'one JSON object per event: {type, ...entry} (expectations: {type, table: "expect", ...expectation})')
    .option('--expect', 'expectation events too, printed like `conntrack -E expect`')
    .addOption(new Option('-e, --event-mask <types>', 'comma list of new,update,destroy').argParser(eventTypes).default(undefined))
    .addOption(new Option('--buffer-size <bytes>', 'socket receive buffer (default 16 MiB)').argParser(integer(2 ** 31 - 1, 'buffer size')))
    .addOption(new Option('--count <n>', 'exit after n events').argParser(integer(2 ** 31 - 1, 'count')))
    .action((opts: EventsOptions & { eventMask?: EventType[] }) => events({ ...opts, types: opts.eventMask }));

  ct.addCommand(expectCommand());

  return ct;
}
