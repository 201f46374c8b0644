/** Row ids that sort in the order this process made them (outbox and mailbox lists are "oldest first"). */
import { randomBytes } from 'node:crypto';

let last = 0;
let seq = 0;

/**
 * A UUID-shaped id: 48 bits of time (never going back within the process), a 24-bit sequence
 * within the same millisecond, then 56 random bits. Two ids made in the same millisecond still
 * sort in the order they were made.
 */
export function orderedId(now: number = Date.now()): string {
  const t = Math.max(Math.floor(now), last);
  seq = t === last ? seq + 1 : 0;
  last = t;
  const time = t.toString(16).padStart(12, '0').slice(-12);
  const count = (seq & 0xffffff).toString(16).padStart(6, '0');
  const rnd = randomBytes(7).toString('hex');
  return `${time.slice(0, 8)}-${time.slice(8)}-${count.slice(0, 4)}-${count.slice(4)}${rnd.slice(0, 2)}-${rnd.slice(2)}`;
}
