// One sender at a time into the kernel, across worker threads. ctnetlink runs each create under
// a per-subsystem mutex, and a sendmsg runs its whole batch before it returns. Two threads
// sending at once take that mutex in turns for every message: the waiting CPU spins in the
// kernel instead of encoding its next batch. Taking turns per batch instead keeps the kernel
// busy with one batch while the other thread encodes the next one. A thread waiting for its turn
// spins for a few milliseconds (about a batch's sendmsg) before it sleeps: waking a sleeping
// thread, on a virtual machine above all, left the kernel idle for ~0.2 ms per turn.
import { nativeAddon, type NativeAddon } from '../native.js';

/** A lock word in shared memory, taken and released by the native addon (a futex). */
export class KernelTurn {
  private readonly word: Int32Array;
  private readonly addon: NativeAddon;

  /** `shared`: from KernelTurn.allocate(), the same for every thread that takes turns. */
  constructor(shared: SharedArrayBuffer) {
    this.word = new Int32Array(shared, 0, 1);
    this.addon = nativeAddon();
  }

  static allocate(): SharedArrayBuffer {
    return new SharedArrayBuffer(4);
  }

  /** Blocks the thread until the turn is ours (worker threads: the main thread must not block). */
  acquire(): void {
    this.addon.turnAcquire(this.word);
  }

  release(): void {
    this.addon.turnRelease(this.word);
  }
}
