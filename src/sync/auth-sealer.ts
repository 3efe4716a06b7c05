// Sync encryption's two sides (docs/ftfw-protocol.md §13.8). DatagramSealer seals each datagram
// under this start's epoch and the next counter; DatagramGate decides what a received datagram is
// (sealed: opened, then checked for freshness; plain: signed or not) and, through the verifier,
// what the mode does with it. Pure: no I/O, no clock.
import { COUNTER_MAX } from './auth-trailer.js';
import {
  SEALED_OVERHEAD,
  SUITE_AES_256_GCM,
  deriveCipherKey,
  findSealed,
  openSealed,
  seal,
  type SealedSuite,
} from './auth-cipher.js';
import { senderPseudoHeader } from './auth-trailer.js';
import type { DatagramVerifier, RejectReason } from './auth-verifier.js';

export class DatagramSealer {
  private counter = 0;
  private cipherKey: Buffer;

  /**
   * `sender`: senderPseudoHeader() of the address and port this node's datagrams leave from (the
   * receiver derives the same cipher key from where they arrive from).
   */
  constructor(
    private keyId: number,
    key: Uint8Array,
    private epoch: bigint,
    private readonly sender: Uint8Array,
    private readonly suite: SealedSuite = SUITE_AES_256_GCM,
  ) {
    this.cipherKey = deriveCipherKey(key, sender);
  }

  /** Bytes a sealed datagram has beyond its messages. */
  static readonly overhead = SEALED_OVERHEAD;

  /** The active key from now on (a reload); the nonce sequence goes on, so no nonce repeats. */
  setActiveKey(keyId: number, key: Uint8Array): void {
    this.keyId = keyId;
    this.cipherKey = deriveCipherKey(key, this.sender);
  }

  /** `datagram` sealed (a new buffer). */
  seal(datagram: Uint8Array): Buffer {
    if (this.counter > COUNTER_MAX) {
      // never reuse a nonce: the next epoch is still above this one, and below the next start's
      this.epoch += 1n;
      this.counter = 0;
    }
    const fields = { keyId: this.keyId, epoch: this.epoch, counter: this.counter++ };
    return seal(datagram, fields, this.suite, this.cipherKey);
  }

  /** Where the sealer is (tests). */
  get position(): { epoch: bigint; counter: number } {
    return { epoch: this.epoch, counter: this.counter };
  }
}

/** What to do with a received datagram: pass `data` on, or drop it. */
export type GateVerdict =
  | { pass: true; data: Buffer; sealed: boolean; reason?: RejectReason; why?: string }
  | { pass: false; reason: RejectReason; why: string };

/**
 * The receiving side with authentication configured. A sealed datagram is opened in every mode
 * (a node that holds the keys can read its peer's datagrams whether it encrypts its own or not,
 * so encryption is switched on one node at a time); one that cannot be opened is dropped in every
 * mode, since there is nothing to pass on. A plain datagram, while `encrypt` is on, fails as
 * 'not-encrypted': dropped in enforce; in permissive and receive-only it is counted and then
 * checked as signed or unsigned, as without encryption.
 */
/** Cipher keys kept by the gate (key id × sender port; the peer's address is one). */
const CIPHER_KEY_CACHE = 64;

export class DatagramGate {
  /** Cipher keys by key id and sender. */
  private readonly cipherKeys = new Map<string, Buffer>();

  constructor(
    private readonly verifier: DatagramVerifier,
    private keys: ReadonlyMap<number, Uint8Array>,
    private encrypt: boolean,
  ) {}

  /** New keys or encryption setting (a reload); the replay state (in the verifier) is kept. */
  reconfigure(keys: ReadonlyMap<number, Uint8Array>, encrypt: boolean): void {
    this.keys = keys;
    this.encrypt = encrypt;
    this.cipherKeys.clear();
  }

  /** Checks a datagram from `address`:`port`. */
  receive(datagram: Buffer, address: string, port: number): GateVerdict {
    const s = findSealed(datagram);
    if (s.kind === 'sealed') return this.open(datagram, s, address, port);
    if (s.kind === 'malformed') return drop(this.verifier, 'malformed', s.why);
    if (this.encrypt) {
      const plain = this.verifier.fail('not-encrypted', 'a plain datagram while Encrypt is on', datagram.length);
      if (!plain.pass) return plain;
    }
    const v = this.verifier.verify(datagram, address, port);
    if (!v.pass) return v;
    const data = v.length === datagram.length ? datagram : datagram.subarray(0, v.length);
    return { pass: true, data, sealed: false, reason: v.reason, why: v.why };
  }

  private open(
    d: Uint8Array,
    s: Extract<ReturnType<typeof findSealed>, { kind: 'sealed' }>,
    address: string,
    port: number,
  ): GateVerdict {
    const { keyId, epoch, counter } = s.fields;
    const cipherKey = this.cipherKey(keyId, address, port);
    if (!cipherKey) return drop(this.verifier, 'unknown-key', `key id ${keyId} is not configured`);
    const plain = openSealed(d, s, cipherKey);
    if (!plain) return drop(this.verifier, 'bad-mac', `the AEAD tag does not match (key ${keyId})`);
    const v = this.verifier.admit(address, epoch, counter, plain.length);
    if (!v.pass) return v;
    return { pass: true, data: plain, sealed: true, reason: v.reason, why: v.why };
  }

  private cipherKey(keyId: number, address: string, port: number): Buffer | undefined {
    const name = `${keyId}|${address}|${port}`;
    let k = this.cipherKeys.get(name);
    if (k) return k;
    const key = this.keys.get(keyId);
    if (!key) return undefined;
    k = deriveCipherKey(key, senderPseudoHeader(address, port));
    // forged datagrams from many ports must not grow the cache without bound
    if (this.cipherKeys.size >= CIPHER_KEY_CACHE) this.cipherKeys.clear();
    this.cipherKeys.set(name, k);
    return k;
  }
}

/** A sealed datagram that cannot be opened: counted, and dropped whatever the mode says. */
function drop(verifier: DatagramVerifier, reason: RejectReason, why: string): GateVerdict {
  const v = verifier.fail(reason, why, 0);
  if (v.pass) verifier.counters.dropped++;
  return { pass: false, reason, why };
}
