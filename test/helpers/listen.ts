// Watching a long-running listener (ctsync ct events, conntrack -E) from a test.

/** Source address of the sentinel flows a test inserts to see that a listener is subscribed. */
export const SENTINEL = '203.0.113.250';

/**
 * Collects stdout lines of a running process. Once `ready` is set, lines of the sentinel flows
 * are left out: stragglers may still arrive.
 */
export function lines(proc: { stdout: NodeJS.ReadableStream | null }): string[] & { ready?: boolean } {
  const out: string[] & { ready?: boolean } = [];
  let rest = '';
  proc.stdout!.on('data', (d: Buffer) => {
    rest += d.toString();
    const parts = rest.split('\n');
    rest = parts.pop()!;
    for (const l of parts) if (l && !(out.ready && l.includes(SENTINEL))) out.push(l);
  });
  return out;
}

/** Polls `cond` every 20 ms until it holds; fails after `ms`. */
export async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
