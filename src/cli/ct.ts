// `ctsync ct …`: the kernel tables (conntrack, `ct expect …` expectations), directly (no daemon).
// Thin: parse, call the engine, print. The commands' work (ct-actions.ts, with the netlink
// modules) is loaded when one runs, not for `ctsync --help` or another subcommand.
import { Command, InvalidArgumentError, Option } from 'commander';
import { AF_INET, AF_INET6 } from '../netlink/constants.js';
import type { EventType } from '../conntrack/entry.js';
import type { EventsOptions, ListOptions, LoadOptions } from './ct-actions.js';

const work = () => import('./ct-actions.js');

function integer(max: number, what: string) {
  return (v: string): number => {
    const n = /^(0x[0-9a-f]+|[0-9]+)$/i.test(v) ? Number(v) : NaN;
    if (!Number.isSafeInteger(n) || n < 0 || n > max)
      throw new InvalidArgumentError(`${what} must be an integer 0..${max}, got '${v}'`);
    return n;
  };
}

function family(v: string): number {
  if (v === 'ipv4' || v === 'inet') return AF_INET;
  if (v === 'ipv6' || v === 'inet6') return AF_INET6;
  throw new InvalidArgumentError(`family must be ipv4 or ipv6, got '${v}'`);
}

function eventTypes(v: string): EventType[] {
  const out: EventType[] = [];
  for (const t of v.split(',')) {
    const u = t.trim().toUpperCase();
    if (u !== 'NEW' && u !== 'UPDATE' && u !== 'DESTROY')
      throw new InvalidArgumentError(`event type must be new, update or destroy, got '${t}'`);
    out.push(u);
  }
  return out;
}

/** The options of both `events` commands after --json: which types, the buffer, how many. */
function eventStreamOptions(cmd: Command, types: string): Command {
  return cmd
    .addOption(
      new Option('-e, --event-mask <types>', `comma list of ${types}`).argParser(eventTypes).default(undefined),
    )
    .addOption(
      new Option('--buffer-size <bytes>', 'socket receive buffer (default 16 MiB)').argParser(
        integer(2 ** 31 - 1, 'buffer size'),
      ),
    )
    .addOption(new Option('--count <n>', 'exit after n events').argParser(integer(2 ** 31 - 1, 'count')));
}

function expectCommand(): Command {
  const exp = new Command('expect').description('work on the kernel expectation table directly (no daemon)');

  exp
    .command('list')
    .description('list expectations, laid out like `conntrack -L expect` (which shows one family: ipv4 unless -f ipv6)')
    .option('--json', 'one JSON object per line, every field')
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family (default: both)').argParser(family))
    .action((opts: { json?: boolean; family?: number }) => work().then((w) => w.expectList(opts)));

  exp
    .command('load')
    .description(
      'create every expectation of a `ct expect list --json` file (or - for stdin), in batches; each needs its master conntrack, with a helper, in the table',
    )
    .argument('<file>', 'JSON-lines file, one expectation per line; - reads stdin')
    .option('--replace', 'delete and re-create expectations that already exist')
    .option(
      '--update',
      "set the timeout of existing expectations instead (the kernel gives new ones the helper's timeout, whatever the file says)",
    )
    .option('--skip-invalid', 'load the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action((file: string, opts: LoadOptions) => work().then((w) => w.expectLoad(file, opts)));

  exp
    .command('delete')
    .description('delete every expectation of a JSON-lines file (or - for stdin), found by tuple (and zone)')
    .argument('<file>', 'JSON-lines file, one expectation per line; - reads stdin')
    .option('--skip-invalid', 'delete the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action((file: string, opts: { skipInvalid?: boolean; json?: boolean; quiet?: boolean }) =>
      work().then((w) => w.expectDelete(file, opts)),
    );

  exp
    .command('flush')
    .description('delete every expectation, like `conntrack -F expect`')
    .addOption(
      new Option(
        '--family <ipv4|ipv6>',
        'only this layer-3 family (deleted one by one: the kernel flush ignores the family)',
      ).argParser(family),
    )
    .action((opts: { family?: number }) => work().then((w) => w.expectFlush(opts)));

  exp
    .command('stats')
    .description('per-CPU expectation counters, like `conntrack -S expect`')
    .option('--json', 'one JSON object per CPU')
    .action((opts: { json?: boolean }) => work().then((w) => w.stats({ ...opts, expect: true })));

  const expEvents = exp
    .command('events')
    .description('print expectation events live, like `conntrack -E expect` (the kernel sends NEW and DESTROY)')
    .option('--json', 'one JSON object per event: {type, table: "expect", ...expectation}');
  eventStreamOptions(expEvents, 'new,destroy').action((opts: EventsOptions & { eventMask?: EventType[] }) =>
    work().then((w) => w.events({ ...opts, types: opts.eventMask, conntrack: false, expect: true })),
  );

  return exp;
}

export function ctCommand(): Command {
  const ct = new Command('ct').description('work on the kernel conntrack and expectation tables directly (no daemon)');

  ct.command('list')
    .description('list the table, laid out like `conntrack -L`')
    .option('--json', 'one JSON object per line, every field')
    .option('-o, --extended', 'prefix the layer-3 protocol like `conntrack -L -o extended`')
    .addOption(new Option('--zone <n>', 'only entries in this zone').argParser(integer(65535, 'zone')))
    .addOption(
      new Option('--mark <n>', 'only entries with this mark (see --mark-mask)').argParser(integer(0xffffffff, 'mark')),
    )
    .addOption(
      new Option('--mark-mask <n>', 'mask applied to the mark before comparing').argParser(
        integer(0xffffffff, 'mark mask'),
      ),
    )
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family').argParser(family))
    .action((opts: ListOptions) => work().then((w) => w.list(opts)));

  ct.command('count')
    .description('number of entries in the table, like `conntrack -C`')
    .option('--json', 'also print the table limit, as JSON')
    .action((opts: { json?: boolean }) => work().then((w) => w.count(opts)));

  ct.command('stats')
    .description('per-CPU counters, like `conntrack -S` (or `conntrack -S expect` with --expect)')
    .option('--json', 'one JSON object per CPU')
    .option('--expect', 'the expectation counters instead')
    .action((opts: { json?: boolean; expect?: boolean }) => work().then((w) => w.stats(opts)));

  ct.command('flush')
    .description('delete every entry, like `conntrack -F`')
    .addOption(new Option('--family <ipv4|ipv6>', 'only this layer-3 family').argParser(family))
    .action((opts: { family?: number }) => work().then((w) => w.flush(opts)));

  ct.command('load')
    .description('create every entry of a `ct list --json` file (or - for stdin), in batches')
    .argument('<file>', 'JSON-lines file, one entry per line; - reads stdin')
    .option('--replace', 'delete and re-create entries that already exist')
    .option('--update', 'update existing entries instead (timeout, mark, protocol state, labels)')
    .option('--skip-invalid', 'load the valid lines even if some lines are invalid')
    .option('--json', 'print the summary as JSON on stdout')
    .option('-q, --quiet', 'no summary line (errors are still printed)')
    .action((file: string, opts: LoadOptions) => work().then((w) => w.load(file, opts)));

  const ctEvents = ct
    .command('events')
    .description('print conntrack events live, like `conntrack -E`')
    .option(
      '--json',
      'one JSON object per event: {type, ...entry} (expectations: {type, table: "expect", ...expectation})',
    )
    .option('--expect', 'expectation events too, printed like `conntrack -E expect`');
  eventStreamOptions(ctEvents, 'new,update,destroy').action((opts: EventsOptions & { eventMask?: EventType[] }) =>
    work().then((w) => w.events({ ...opts, types: opts.eventMask })),
  );

  ct.addCommand(expectCommand());

  return ct;
}
