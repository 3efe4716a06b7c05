// The sending side of sync authentication (docs/ftfw-protocol.md §13.3): signs each datagram with
// the active key under this start's epoch and the next counter. Pure: the epoch's time and random
// bits come from the caller.
import { COUNTER_MAX, TRAILER_LENGTH, sign } from './auth-trailer.js';

/** This start's epoch: the start time in ms shifted left by 16 bits, 16 random bits below. */
export function startEpoch(nowMs: number, random16: number): bigint {
  return (BigInt(Math.floor(nowMs)) << 16n) | BigInt(random16 & 0xffff);
}

export class DatagramSigner {
  private counter = 0;

  /**
   * `sender`: senderPseudoHeader() of the address and port this node's datagrams leave from.
   */
  constructor(
    private keyId: number,
    private key: Uint8Array,
    private epoch: bigint,
    private readonly sender: Uint8Array,
  ) {}

  /** Bytes a signed datagram has beyond its messages. */
  static readonly overhead = TRAILER_LENGTH;

  /** The active key from now on (a reload). */
  setActiveKey(keyId: number, key: Uint8Array): void {
    this.keyId = keyId;
    this.key = key;
  }

  /** `datagram` with its trailer (a new buffer). */
  sign(datagram: Uint8Array): Buffer {
    if (this.counter > COUNTER_MAX) {
      // never reuse a counter: the next epoch is still above this one, and below the next start's
      this.epoch += 1n;
      this.counter = 0;
    }
    return sign(datagram, { keyId: this.keyId, epoch: this.epoch, counter: this.counter++ }, this.key, this.sender);
  }

  /** Where the signer is (tests and the status). */
  get position(): { epoch: bigint; counter: number } {
    return { epoch: this.epoch, counter: this.counter };
  }
}
