// Hostile input: random reports and random CTAP2 requests never throw, always get a well-formed
// CTAPHID answer, and leave the persistent state as it was.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex } from '../../src/core/index.js';
import { ctapRequestVectors } from '../vectors/ctap-requests.js';
import { ctapGetAssertionExample, ctapMakeCredentialExample } from '../vectors/ctap-cbor.js';
import { decodeCbor, encodeCbor } from '../../src/ctap/cbor.js';
import { CtapHidCmd, packetize } from '../../src/ctap/ctaphid.js';
import { makeChip } from './harness.js';

/** A report the device sent is well-formed: 64 bytes; an init packet names a CTAPHID command. */
function checkReport(r: Uint8Array): void {
  expect(r).toHaveLength(64);
  if (r[4]! & 0x80) {
    expect(Object.values(CtapHidCmd)).toContain(r[4]! & 0x7f);
    expect((r[5]! << 8) | r[6]!).toBeLessThanOrEqual(7609);
  }
}

const cborValue = fc.letrec((tie) => ({
  leaf: fc.oneof(
    fc.integer({ min: -300, max: 300 }),
    fc.string({ maxLength: 12 }),
    fc.uint8Array({ maxLength: 70 }),
    fc.boolean(),
    fc.constantFrom('public-key', 'rk', 'up', 'uv', 'id', 'name', 'alg', 'type', 'hmac-secret'),
  ),
  node: fc.oneof(
    { depthSize: 'small' },
    tie('leaf'),
    fc.array(tie('node'), { maxLength: 3 }),
    fc
      .uniqueArray(
        fc.tuple(
          fc.oneof(
            fc.integer({ min: -3, max: 12 }),
            fc.constantFrom('id', 'type', 'alg', 'rk', 'up'),
          ),
          tie('node'),
        ),
        {
          selector: (t) => t[0],
          maxLength: 5,
        },
      )
      .map((e) => new Map(e)),
  ),
}));

describe('the chip under hostile input', () => {
  it('random reports: no throw, well-formed answers, state unchanged', () => {
    const { fw, host, clock } = makeChip('fuzz');
    const before = fw.snapshot();
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 0, maxLength: 70 }), { maxLength: 6 }),
        fc.boolean(),
        (reports, aim) => {
          for (const r of reports) {
            // Half the time, aim the report at our channel so it gets past the channel check.
            if (aim && r.length >= 5)
              r.set([
                host.cid >>> 24,
                (host.cid >>> 16) & 0xff,
                (host.cid >>> 8) & 0xff,
                host.cid & 0xff,
              ]);
            for (const out of fw.handleReport(r)) checkReport(out);
          }
          clock.advance(4000);
          for (const out of fw.tick()) checkReport(out);
        },
      ),
      { numRuns: 1500 },
    );
    expect(fw.snapshot()).toEqual(before);
  });

  it('random CTAP2 requests: a status byte, a decodable body, state unchanged (except reset)', () => {
    const { fw, host } = makeChip('fuzz2');
    const before = fw.snapshot();
    fc.assert(
      fc.property(
        fc.constantFrom(0x01, 0x02, 0x04, 0x06, 0x08, 0x0a, 0x0b, 0x0c, 0x40),
        fc.oneof(cborValue.node, fc.uint8Array({ maxLength: 40 })),
        fc.boolean(),
        (cmd, params, raw) => {
          const body = raw && params instanceof Uint8Array ? params : encodeCbor(params);
          const x = host.exchange(CtapHidCmd.CBOR, concatBytes(Uint8Array.of(cmd), body));
          for (const r of x.reports) checkReport(r);
          expect(x.cmd).toBe(CtapHidCmd.CBOR);
          expect(x.payload.length).toBeGreaterThanOrEqual(1);
          if (x.payload.length > 1) {
            expect(x.payload[0]).toBe(0);
            expect(() => decodeCbor(x.payload.subarray(1), { maxDepth: 8 })).not.toThrow();
          }
        },
      ),
      { numRuns: 800 },
    );
    expect(fw.snapshot()).toEqual(before);
  });

  it('random APDUs: a status word always, state unchanged unless it was a valid operation', () => {
    const { fw, host } = makeChip('fuzz3', 'deny');
    const before = fw.snapshot();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 140 }), (apdu) => {
        const x = host.exchange(CtapHidCmd.MSG, apdu);
        expect(x.payload.length).toBeGreaterThanOrEqual(2);
      }),
      { numRuns: 800 },
    );
    // In deny mode no register or enforced authenticate can succeed.
    expect(fw.snapshot()).toEqual(before);
  });

  it('a message split across packets with a wrong sequence leaves the chip usable', () => {
    const { fw, host } = makeChip('seq');
    const p = packetize(
      host.cid,
      CtapHidCmd.CBOR,
      concatBytes(Uint8Array.of(4), new Uint8Array(200)),
    );
    fw.handleReport(p[0]!);
    const out = fw.handleReport(p[2]!);
    expect(out[0]![4]).toBe(0xbf);
    expect(out[0]![7]).toBe(0x04);
    expect(host.ctap(0x04).status).toBe(0);
  });
});

describe('refused requests (test/vectors/ctap-requests.ts)', () => {
  it.each(ctapRequestVectors)('$name → status $status', ({ hex, status }) => {
    const { fw, host } = makeChip('vectors');
    const before = fw.snapshot();
    const x = host.exchange(CtapHidCmd.CBOR, fromHex(hex));
    expect(x.payload).toEqual(Uint8Array.of(status));
    expect(fw.snapshot()).toEqual(before);
  });
});

describe('the CTAP 2.0 example requests', () => {
  it('makeCredential (§5.1, ES256 first, rk): accepted, a discoverable credential for example.com', () => {
    const { fw, host } = makeChip('spec');
    const x = host.exchange(
      CtapHidCmd.CBOR,
      concatBytes(Uint8Array.of(1), fromHex(ctapMakeCredentialExample.hex)),
    );
    expect(x.payload[0]).toBe(0);
    expect(fw.snapshot().credentials.map((c) => [c.rpId, c.userName])).toEqual([
      ['example.com', 'johnpsmith@example.com'],
    ]);
  });
  it('getAssertion (§5.2) asks for uv, which the chip has no built-in way to do: INVALID_OPTION', () => {
    const { host } = makeChip('spec');
    const x = host.exchange(
      CtapHidCmd.CBOR,
      concatBytes(Uint8Array.of(2), fromHex(ctapGetAssertionExample.hex)),
    );
    expect(x.payload).toEqual(Uint8Array.of(0x2c));
  });
});
