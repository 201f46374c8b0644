// The encoder's shortcuts (ASCII text, cached map keys, one scratch buffer) give the same bytes as the slow paths.
import { describe, expect, it } from 'vitest';
import { Encoder } from 'cbor-x';
import { toHex } from '../../src/core/index.js';
import { decodeCbor, encodeCbor } from '../../src/ctap/cbor.js';
import { Reassembler, packetize } from '../../src/ctap/ctaphid.js';

/** An independent encoder for text, where canonical form has only one answer. */
const peer = new Encoder({ useRecords: false, mapsAsObjects: false });

describe('CBOR encoder shortcuts', () => {
  it('writes ASCII, non-ASCII and boundary text exactly as an independent encoder does', () => {
    const texts = [
      '',
      'a',
      '\u007f',
      '\u0080',
      'bench.mitid.example',
      'æøå',
      'x'.repeat(23),
      'x'.repeat(24),
      'y'.repeat(255),
      'y'.repeat(256),
      'z'.repeat(300),
      '😀',
      'a\u0000b',
    ];
    for (const t of texts) {
      expect(toHex(encodeCbor(t)), JSON.stringify(t)).toBe(toHex(new Uint8Array(peer.encode(t))));
      expect(decodeCbor(encodeCbor(t))).toBe(t);
    }
  });

  it('gives cached map keys the same encoding every time, in canonical order', () => {
    const m = new Map<number | string, unknown>([
      ['type', 1],
      [3, 'c'],
      [-2, 'b'],
      [1, 'a'],
      ['id', 2],
    ]);
    const first = toHex(encodeCbor(m));
    expect(toHex(encodeCbor(m))).toBe(first);
    // Length first, then bytes: 1, 3, -2 (0x21), "id", "type" (CTAP 2.1 §8).
    expect([...(decodeCbor(encodeCbor(m)) as Map<unknown, unknown>).keys()]).toEqual([
      1,
      3,
      -2,
      'id',
      'type',
    ]);
    expect(() => encodeCbor(new Map<unknown, unknown>([[0, 1]]))).not.toThrow();
  });

  it('returns buffers that later calls do not overwrite, also when a getter encodes too', () => {
    const a = encodeCbor({ a: 'first' });
    const b = encodeCbor({ a: 'second' });
    expect(decodeCbor(a, { canonical: false })).toEqual(new Map([['a', 'first']]));
    expect(decodeCbor(b, { canonical: false })).toEqual(new Map([['a', 'second']]));
    const nested = {
      get inner(): Uint8Array {
        return encodeCbor([1, 2, 3]);
      },
    };
    const out = decodeCbor(encodeCbor(nested)) as Map<string, Uint8Array>;
    expect(toHex(out.get('inner')!)).toBe('83010203');
    const prefixed = encodeCbor(new Map([[1, 'x']]), { prefix: Uint8Array.of(0x02) });
    expect(toHex(prefixed)).toBe('02a1016178');
    const big = encodeCbor(new Uint8Array(100_000));
    expect(big.length).toBe(100_005);
    expect(toHex(encodeCbor('ok'))).toBe('626f6b');
  });

  it('counts channels with a partial message', () => {
    const r = new Reassembler();
    expect(r.pendingCount).toBe(0);
    r.push(packetize(7, 0x10, new Uint8Array(100))[0]!);
    expect(r.pendingCount).toBe(1);
    r.abort(7);
    expect(r.pendingCount).toBe(0);
  });
});
