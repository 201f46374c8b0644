// The chip firmware behind the in-process HID transport, spoken to by CtapHidClient: the two
// halves of src/ctap/ctaphid.ts meeting over a carrier that ticks in real time.
import { describe, expect, it } from 'vitest';
import { concatBytes, systemClock } from '../../src/core/index.js';
import { decodeCbor, encodeCbor, type CborMap } from '../../src/ctap/cbor.js';
import { CtapHidClient, CtapHidCapability } from '../../src/ctap/ctaphid.js';
import { CtapStatus } from '../../src/ctap/status.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import { ChipFirmware, type UpMode } from '../../firmware-sim/chip/index.js';

let winks = 0;
async function connect(upMode: UpMode) {
  const fw = ChipFirmware.manufacture({
    serial: 'CHIP-0100',
    clock: systemClock,
    upMode,
    onWink: () => winks++,
  });
  const client = await CtapHidClient.open(await VirtualHidTransport.open(fw, { tickMs: 20 }));
  return { fw, client };
}

const mc = (): Uint8Array =>
  concatBytes(
    Uint8Array.of(0x01),
    encodeCbor(
      new Map<number, unknown>([
        [1, new Uint8Array(32).fill(7)],
        [2, new Map([['id', 'mitid-erhverv.example']])],
        [
          3,
          new Map<string, unknown>([
            ['id', Uint8Array.of(1)],
            ['name', 'anna'],
          ]),
        ],
        [
          4,
          [
            new Map<string, unknown>([
              ['alg', -7],
              ['type', 'public-key'],
            ]),
          ],
        ],
      ]),
    ),
  );

describe('CtapHidClient and ChipFirmware over VirtualHidTransport', () => {
  it('INIT reports CBOR and WINK capabilities and MSG support; getInfo, PING and WINK work', async () => {
    const { client } = await connect('auto');
    expect(client.info.capabilities & CtapHidCapability.CBOR).toBeTruthy();
    expect(client.info.capabilities & CtapHidCapability.WINK).toBeTruthy();
    expect(client.info.capabilities & CtapHidCapability.NMSG).toBe(0);
    expect(client.info.major).toBe(1);
    const info = await client.cbor(Uint8Array.of(0x04));
    expect(info[0]).toBe(0);
    expect((decodeCbor(info.subarray(1)) as CborMap).get(1)).toContain('FIDO_2_1');
    const data = new Uint8Array(3000).map((_, i) => i * 7);
    expect(await client.ping(data)).toEqual(data);
    const before = winks;
    await client.wink();
    expect(winks).toBe(before + 1);
    await client.close();
  });
  it('manual presence: keepalives with UPNEEDED until the button is pressed', async () => {
    const { fw, client } = await connect('manual');
    const statuses: number[] = [];
    const res = await client.cbor(mc(), {
      onKeepalive: (s) => {
        statuses.push(s);
        if (statuses.length === 3) fw.pressButton();
      },
    });
    expect(res[0]).toBe(0);
    expect(statuses.slice(0, 3)).toEqual([2, 2, 2]);
    await client.close();
  });
  it('aborting while the chip waits cancels: CTAP2_ERR_KEEPALIVE_CANCEL', async () => {
    const { client } = await connect('manual');
    const ac = new AbortController();
    const res = await client.cbor(mc(), { signal: ac.signal, onKeepalive: () => ac.abort() });
    expect(res).toEqual(Uint8Array.of(CtapStatus.CTAP2_ERR_KEEPALIVE_CANCEL));
    // The channel is free again.
    expect((await client.cbor(Uint8Array.of(0x04)))[0]).toBe(0);
    await client.close();
  });
  it('U2F VERSION over MSG', async () => {
    const { client } = await connect('auto');
    const r = await client.msg(Uint8Array.of(0, 3, 0, 0));
    expect(new TextDecoder().decode(r.subarray(0, 6))).toBe('U2F_V2');
    expect([...r.subarray(6)]).toEqual([0x90, 0x00]);
    await client.close();
  });
});
