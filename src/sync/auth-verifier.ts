// The receiving side of sync authentication (docs/ftfw-protocol.md §13.6): checks a datagram's
// trailer (key, MAC over the datagram and its sender, then freshness) and decides by the mode
// whether the datagram goes on to the decoder, counting every rejection by its reason. Pure: no
// I/O, no clock.
import { findTrailer, macMatches, senderPseudoHeader } from './auth-trailer.js';
import { ReplayWindow } from './replay-window.js';

export const AUTH_MODES = ['receive-only', 'permissive', 'enforce'] as const;
/**
 * receive-only: verify and count, pass everything on; permissive: pass unsigned datagrams on,
 * drop bad trailers; enforce: only valid, fresh datagrams.
 */
export type AuthMode = (typeof AUTH_MODES)[number];

export const REJECT_REASONS = [
  'no-trailer',
  'malformed',
  'unknown-key',
  'bad-mac',
  'stale',
  'replay',
  'not-encrypted',
] as const;
/**
 * Why a datagram fails authentication. A sealed datagram (auth-sealer.ts) fails for the same
 * reasons; a tag that does not match is 'bad-mac'; 'not-encrypted' is a plain datagram while
 * `Encrypt on` is configured.
 */
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface AuthCounters {
  /** Signed, valid and fresh: passed on without the trailer. */
  accepted: number;
  /** Failed (receive-only, permissive for no-trailer: passed on anyway), by reason. */
  failed: Record<RejectReason, number>;
  /** Of the failed ones, those dropped (never reached the decoder). */
  dropped: number;
}

/** What to do with a datagram: pass its first `length` bytes on, or drop it. */
export type Verdict =
  | { pass: true; length: number; reason?: RejectReason; why?: string }
  | { pass: false; reason: RejectReason; why: string };

export class DatagramVerifier {
  readonly counters: AuthCounters = {
    accepted: 0,
    failed: { 'no-trailer': 0, malformed: 0, 'unknown-key': 0, 'bad-mac': 0, stale: 0, replay: 0, 'not-encrypted': 0 },
    dropped: 0,
  };
  private readonly windows = new Map<string, ReplayWindow>();
  private senderKey = '';
  private sender: Buffer = Buffer.alloc(0);

  constructor(
    private mode: AuthMode,
    private keys: ReadonlyMap<number, Uint8Array>,
  ) {}

  /** New keys or mode (a reload); the replay state is kept. */
  reconfigure(mode: AuthMode, keys: ReadonlyMap<number, Uint8Array>): void {
    this.mode = mode;
    this.keys = keys;
  }

  /** Checks a datagram from `address`:`port`. */
  verify(datagram: Uint8Array, address: string, port: number): Verdict {
    const t = findTrailer(datagram);
    if (t.kind === 'unsigned') return this.fail('no-trailer', 'no authentication trailer', datagram.length);
    if (t.kind === 'malformed') return this.fail('malformed', t.why, datagram.length);
    const { keyId, epoch, counter } = t.fields;
    const key = this.keys.get(keyId);
    if (!key) return this.fail('unknown-key', `key id ${keyId} is not configured`, t.at);
    if (!macMatches(datagram, t.at, key, this.pseudoHeader(address, port)))
      return this.fail('bad-mac', `the MAC does not match (key ${keyId})`, t.at);
    return this.admit(address, epoch, counter, t.at);
  }

  /**
   * The freshness check of an authenticated datagram (its MAC or tag matched): accepted and
   * recorded if fresh, else failed as stale or replay; `length` is what passes on.
   */
  admit(address: string, epoch: bigint, counter: number, length: number): Verdict {
    let window = this.windows.get(address);
    if (!window) this.windows.set(address, (window = new ReplayWindow()));
    const freshness = window.check(epoch, counter);
    if (freshness !== 'fresh')
      return this.fail(
        freshness,
        `epoch ${epoch.toString(16)} counter ${counter} was ${freshness === 'stale' ? 'left behind' : 'accepted before'}`,
        length,
      );
    window.accept(epoch, counter);
    this.counters.accepted++;
    return { pass: true, length };
  }

  /** Counts a failure and applies the mode: `length` is what passes on if it does. */
  fail(reason: RejectReason, why: string, length: number): Verdict {
    this.counters.failed[reason]++;
    const plain = reason === 'no-trailer' || reason === 'not-encrypted';
    const passes = this.mode === 'receive-only' || (this.mode === 'permissive' && plain);
    if (passes) return { pass: true, length, reason, why };
    this.counters.dropped++;
    return { pass: false, reason, why };
  }

  private pseudoHeader(address: string, port: number): Buffer {
    const key = `${address}|${port}`;
    if (key !== this.senderKey) {
      this.sender = senderPseudoHeader(address, port);
      this.senderKey = key;
    }
    return this.sender;
  }
}
