// What the sync engine replicates: the configured Filter on kernel entries (decoded or scanned
// as bytes) and, with ExpectationSync, on expectations.
import type { Entry, Expect } from '../conntrack/entry.js';
import { makeFilter, type FilterRules } from '../conntrack/filter.js';
import type { EventTranscoder } from './event-transcoder.js';
import { makeEventFilter } from './flow-filter.js';

/**
 * The ExpectationSync predicate: expectations of the listed helpers (case-insensitive name
 * prefixes, as conntrackd matches them), or all (true), or none (false).
 */
export function makeExpectHelperFilter(setting: boolean | string[]): (x: Expect) => boolean {
  if (setting === true) return () => true;
  if (setting === false) return () => false;
  const names = setting.map((h) => h.toLowerCase());
  return (x) => {
    const h = x.helper?.toLowerCase();
    return h !== undefined && names.some((n) => h.startsWith(n));
  };
}

export class ReplicationFilter {
  /** Whether the Filter lets this flow be replicated (and flushed by `-F`). */
  readonly entry: (e: Entry) => boolean;
  /** The same, on a kernel event the transcoder has scanned (no Entry). */
  readonly scanned: (t: EventTranscoder) => boolean;
  private readonly expectHelperWanted: (x: Expect) => boolean;

  constructor(rules: FilterRules, expectationSync: boolean | string[]) {
    this.entry = makeFilter(rules);
    this.scanned = makeEventFilter(rules);
    this.expectHelperWanted = makeExpectHelperFilter(expectationSync);
  }

  /**
   * Whether an expectation is replicated: its helper is one ExpectationSync names, and the
   * Filter's protocol and address rules let its master flow through (as conntrackd checks the
   * master; there is no TCP state to check).
   */
  expect(x: Expect): boolean {
    if (!this.expectHelperWanted(x)) return false;
    const m = x.master;
    return this.entry({ family: x.family, orig: m, reply: { src: m.dst, dst: m.src, proto: m.proto } });
  }
}
