// The mocha side of the network-namespace helpers: the namespaces themselves are in
// tools/lib/netns.ts (shared with the benchmarks and the lab, which must not import test/), re-exported
// here so that tests import one module. This module adds what needs mocha: useNetns, requireRoot
// and the root hook that deletes every namespace left at the end of the run.
import { Netns, commandMissing, destroyAllNetns, netnsUnavailable } from '../../tools/lib/netns.js';

export * from '../../tools/lib/netns.js';

// Cleanup at the end of the mocha run (a root hook: this module is loaded with the test files).
const mochaAfter = (globalThis as { after?: (fn: () => Promise<void>) => void }).after;
if (typeof mochaAfter === 'function') {
  mochaAfter(async function netnsCleanup() {
    await destroyAllNetns();
  });
}

/**
 * For a mocha suite: a namespace made in before() (the suite is skipped when namespaces cannot
 * be made, see requireRoot) and destroyed in after(). Call at describe() level; use the getter
 * inside tests.
 */
export function useNetns(prefix: string, ...commands: string[]): () => Netns {
  let ns: Netns | undefined;
  before(async function () {
    requireRoot.call(this, ...commands);
    ns = await Netns.create(prefix);
  });
  after(async function () {
    await ns?.destroy();
  });
  return () => {
    if (!ns) throw new Error(`useNetns(${prefix}): the namespace is not there (before() did not run or failed)`);
    return ns;
  };
}

/**
 * Skips the current suite or test (call it in before() or in a test) when not root, when
 * `ip netns` does not work, or when one of `commands` is not installed, with a message saying
 * why. With CTSYNC_REQUIRE_NETNS=1 in the environment (as CI sets it) it fails instead, so that
 * a broken machine cannot pass by skipping.
 */
export function requireRoot(this: Mocha.Context, ...commands: string[]): void {
  skipUnless(this, netnsUnavailable() ?? missingCommands(commands), 'network-namespace tests');
}

/**
 * Skips the current suite or test when one of `commands` is not installed (no root needed), with
 * a message naming them; with CTSYNC_REQUIRE_NETNS=1 (CI, where setup.sh installs them) it fails.
 */
export function requireCommands(this: Mocha.Context, ...commands: string[]): void {
  skipUnless(this, missingCommands(commands), 'these tests');
}

function missingCommands(commands: string[]): string | undefined {
  const missing = commands.filter(commandMissing);
  return missing.length > 0 ? `missing command${missing.length > 1 ? 's' : ''}: ${missing.join(', ')}` : undefined;
}

function skipUnless(ctx: Mocha.Context, why: string | null | undefined, what: string): void {
  if (!why) return;
  if (process.env.CTSYNC_REQUIRE_NETNS === '1') {
    throw new Error(`${what} cannot run (${why}) and CTSYNC_REQUIRE_NETNS=1`);
  }
  console.log(`      (skipped: ${why})`);
  ctx.skip();
}
