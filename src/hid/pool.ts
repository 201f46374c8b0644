/**
 * Short-lived byte buffers carved from shared blocks, for bytes that stay inside the HID and CTAP
 * stack (reports on their way to a device, a message being put together).
 */

/** Size of one block; a buffer larger than a quarter of it gets its own memory. */
const BLOCK = 8192;
const LARGEST = BLOCK / 4;

let block = new ArrayBuffer(BLOCK);
let used = 0;

/**
 * `n` zeroed bytes as a view on a shared block, as Node's Buffer pool does: a block is filled
 * front to back and never handed out twice, so the bytes stay the caller's for as long as it holds
 * them. A new Uint8Array of more than 64 bytes costs V8 a memory allocation outside its heap (and a
 * sweep when it dies), several times what a view costs; this keeps per-message buffers off that
 * path. Only for buffers the stack keeps to itself: a view's `.buffer` is the shared block, so
 * nothing made here is handed to callers outside it.
 */
export function pooledBytes(n: number): Uint8Array {
  if (n > LARGEST) return new Uint8Array(n);
  if (used + n > BLOCK) {
    block = new ArrayBuffer(BLOCK);
    used = 0;
  }
  const out = new Uint8Array(block, used, n);
  // Eight-byte steps keep every view aligned as a fresh buffer would be.
  used += (n + 7) & ~7;
  return out;
}
