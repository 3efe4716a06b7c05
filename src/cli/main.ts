#!/usr/bin/env node
// ctsync command line. Without a subcommand it behaves like conntrackd (-C -d -c -f -F -R -B -n
// -t -k -s -i -e); `ctsync ct …` works on the kernel table directly. Subcommands are thin:
// parse, call, print.
//
// Start-up: keepalived scripts run the client commands several times per failover, each a new
// process. Their plain forms are read by client-argv.ts and sent by client-requests.ts, which
// load nothing but the control socket's client; everything else (commander, the subcommands,
// the daemon) is loaded only by the full command line, program.ts. The fast path's modules are
// imported statically: a dynamic import() costs more than loading them all (measured with
// tools/bench/bench-cli.ts; the control client's node:net is the biggest of them).
//
// What ships as the bin is this module bundled with its static imports into one CommonJS file,
// dist/src/cli/ctsync.cjs (package.json's build:cli): an ES module entry makes node start its
// module loader first, which costs a client command more than all of its own code. The slow
// paths (program.ts, the config loader) stay ES modules beside it, imported only when needed.
import { parseClientArgv, type ClientCall } from './client-argv.js';
import { VERSION_LINE } from './client-flags.js';
import {
  clientRequest,
  daemonSocket,
  healthRequest,
  notifyRequest,
  statusRequest,
  transitionRequest,
} from './client-requests.js';
import { printError, writeOut } from './output.js';

async function request(call: Exclude<ClientCall, { kind: 'version' }>): Promise<void> {
  try {
    switch (call.kind) {
      case 'request':
        return await clientRequest(call.action, call.opts, await daemonSocket(call.opts));
      case 'notify':
        return await notifyRequest(call.program, call.args, call.opts);
      case 'transition':
        return await transitionRequest(call.program, call.name, call.opts);
      case 'status':
        return await statusRequest(call.program, call.opts);
      case 'health':
        return await healthRequest(call.program, call.opts);
    }
  } catch (err) {
    printError(err instanceof Error ? err.message : String(err));
    process.exitCode = 1;
  }
}

async function main(argv: string[]): Promise<void> {
  const call = parseClientArgv(argv.slice(2));
  if (call?.kind === 'version') writeOut(VERSION_LINE);
  else if (call) await request(call);
  else {
    const { runProgram } = await import('./program.js');
    await runProgram(argv);
  }
}

void main(process.argv);
