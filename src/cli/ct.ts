// `ctsync ct …`: the kernel table, directly (no daemon). Thin: parse, call the engine, print.
import fs from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ConntrackClient, DumpFilter } from '../netlink/conntrack-client.js';
import { ConntrackEvents } from '../netlink/conntrack-events.js';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import { formatEntry, formatEvent } from '../conntrack/format.js';
import { entryToJson } from '../conntrack/json.js';
import { parseEntries } from '../conntrack/jsonl.js';
import type { Entry, EventType } from '../conntrack/entry.js';
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

async function load(file: string, opts: LoadOptions): Promise<void> {
  const source = file === '-' ? 'stdin' : file;
  let text: string;
  try {
    text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (err) {
    printError(`cannot read ${source}: ${(err as Error).message}`);
    process.exitCode = 2;
    return;
  }
  const { entries, lines, errors } = await parseEntries(text, source);
  for (const e of errors) printError(e);
  if (errors.length && !opts.skipInvalid) {
    printError(`${errors.length} invalid line(s): nothing loaded (use --skip-invalid to load the valid ones)`);
    process.exitCode = 2;
    return;
  }
  const client = new ConntrackClient({ blocking: true });
  const t0 = process.hrtime.bigint();
  if (opts.update) {
    const u = await client.update(entries);
    client.close();
    for (const f of u.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
    const summary = { entries: entries.length, updated: u.updated, missing: u.missing, failed: u.failed.length };
    if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
    else if (!opts.quiet) process.stderr.write(`ctsync: ${u.updated} updated, ${u.missing} not found, ${u.failed.length} failed\n`);
    if (u.failed.length || u.missing) process.exitCode = 1;
    return;
  }
  const r = await client.create(entries, { replace: opts.replace });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  client.close();
  for (const f of r.failed) printError(`${source}:${lines[f.index]}: ${f.reason}`);
  const summary = {
    entries: entries.length, created: r.created, existing: r.existing, replaced: r.replaced,
    failed: r.failed.length, invalid: errors.length, seconds: Number(seconds.toFixed(6)),
  };
  if (opts.json) process.stdout.write(JSON.stringify(summary) + '\n');
  else if (!opts.quiet) {
    process.stderr.write(`ctsync: ${r.created} created, ${r.existing} already existing, ${r.replaced} replaced, ${r.failed.length} failed` +
      `${errors.length ? `, ${errors.length} invalid lines skipped` : ''} (${entries.length} entries in ${seconds.toFixed(3)} s)\n`);
  }
  if (r.failed.length || errors.length || (r.existing && !opts.replace)) process.exitCode = 1;
}

interface EventsOptions {
  json?: boolean;
  types?: EventType[];
  bufferSize?: number;
  count?: number;
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
  const ev = new ConntrackEvents({ types: opts.types, rcvbuf: opts.bufferSize });
  const out = new LineWriter(1, 0); // unbuffered: events are live
  let seen = 0;
  const done = new Promise<void>((resolve) => {
    const stop = (): void => {
      ev.stop();
      ev.close();
      resolve();
    };
    ev.on('event', (type, e, portid) => {
      // like conntrack -E: name the program behind events a netlink request caused
      out.line(opts.json ? JSON.stringify({ type, ...e, ...(portid ? { portid } : {}) }) : formatEvent(type, e, portid ? { portid, progname: programOfPortId(portid) } : undefined));
      out.flush();
      if (opts.count !== undefined && ++seen >= opts.count) stop();
    });
    ev.on('overrun', ({ bufferSize, count }) => {
      const msg = `event overrun: the kernel dropped events (receive buffer ${bufferSize} bytes, overrun #${count}); the table must be re-read with 'ctsync ct list'`;
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

export function ctCommand(): Command {
  const ct = new Command('ct').description('work on the kernel conntrack table directly (no daemon)');

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
    .description('per-CPU counters, like `conntrack -S`')
    .option('--json', 'one JSON object per CPU')
    .action(async (opts: { json?: boolean }) => {
      const client = new ConntrackClient({ blocking: true });
      const stats = await client.cpuStats();
      client.close();
      const out = new LineWriter();
      for (const { cpu, ...counters } of stats) {
        if (opts.json) out.line(JSON.stringify({ cpu, ...counters }));
        else out.line(`cpu=${String(cpu).padEnd(4)}\t${Object.entries(counters).map(([k, v]) => `${k}=${v} `).join('')}`);
      }
      out.flush();
    });

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
    .option('--json', 'one JSON object per event: {type, ...entry}')
    .addOption(new Option('-e, --event-mask <types>', 'comma list of new,update,destroy').argParser(eventTypes).default(undefined))
    .addOption(new Option('--buffer-size <bytes>', 'socket receive buffer (default 16 MiB)').argParser(integer(2 ** 31 - 1, 'buffer size')))
    .addOption(new Option('--count <n>', 'exit after n events').argParser(integer(2 ** 31 - 1, 'count')))
    .action((opts: EventsOptions & { eventMask?: EventType[] }) => events({ ...opts, types: opts.eventMask }));

  return ct;
}
