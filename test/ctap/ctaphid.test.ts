// CTAPHID: packets against hand-checked vectors, the reassembler, the device channel machine,
// and the host client over the in-process HID transport.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { fromHex, toHex, VirtualClock } from '../../src/core/index.js';
import {
  CTAPHID_BROADCAST_CID,
  CTAPHID_MAX_PAYLOAD,
  CtapHidClient,
  CtapHidCmd,
  CtapHidDevice,
  CtapHidErr,
  CtapHidError,
  KeepaliveStatus,
  packetize,
  Reassembler,
  type CtapHidApplication,
  type CtapHidReply,
} from '../../src/ctap/ctaphid.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import type { HidDeviceFirmware } from '../../src/hid/port.js';
import { ctapHidPacketVectors } from '../vectors/ctaphid.js';

describe('packetize', () => {
  it.each(ctapHidPacketVectors)('$name', ({ cid, cmd, payloadHex, reports }) => {
    const got = packetize(cid, cmd, fromHex(payloadHex)).map(toHex);
    expect(got).toEqual(reports);
    const r = new Reassembler();
    const results = reports.map((h) => r.push(fromHex(h)));
    const last = results.at(-1)!;
    expect(last).toEqual({ type: 'complete', cid, cmd, payload: fromHex(payloadHex) });
  });
  it('the largest message takes 129 packets, the last with SEQ 127', () => {
    const p = packetize(1, CtapHidCmd.CBOR, new Uint8Array(CTAPHID_MAX_PAYLOAD).fill(7));
    expect(CTAPHID_MAX_PAYLOAD).toBe(7609);
    expect(p).toHaveLength(129);
    expect(p.at(-1)![4]).toBe(127);
    expect(() => packetize(1, CtapHidCmd.CBOR, new Uint8Array(CTAPHID_MAX_PAYLOAD + 1))).toThrow(
      RangeError,
    );
    expect(() => packetize(1, 0x80, new Uint8Array(0))).toThrow(RangeError);
  });
  it('round-trips any payload through the reassembler', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ maxLength: 1200 }),
        fc.integer({ min: 1, max: 0xfffffffe }),
        (payload, cid) => {
          const r = new Reassembler();
          let last;
          for (const p of packetize(cid, CtapHidCmd.CBOR, payload)) last = r.push(p);
          expect(last).toEqual({ type: 'complete', cid, cmd: CtapHidCmd.CBOR, payload });
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe('Reassembler', () => {
  it('keeps interleaved channels apart', () => {
    const a = packetize(1, CtapHidCmd.PING, new Uint8Array(100).fill(1));
    const b = packetize(2, CtapHidCmd.PING, new Uint8Array(100).fill(2));
    const r = new Reassembler();
    expect(r.push(a[0]!).type).toBe('partial');
    expect(r.push(b[0]!).type).toBe('partial');
    expect(r.pendingChannels).toEqual([1, 2]);
    const rb = r.push(b[1]!);
    const ra = r.push(a[1]!);
    expect(rb).toMatchObject({ type: 'complete', cid: 2, payload: new Uint8Array(100).fill(2) });
    expect(ra).toMatchObject({ type: 'complete', cid: 1, payload: new Uint8Array(100).fill(1) });
  });
  it('ignores a spurious continuation and rejects a wrong sequence number', () => {
    const p = packetize(5, CtapHidCmd.PING, new Uint8Array(200));
    const r = new Reassembler();
    expect(r.push(p[1]!)).toMatchObject({ type: 'ignored', cid: 5 });
    r.push(p[0]!);
    expect(r.push(p[2]!)).toEqual({ type: 'error', cid: 5, error: CtapHidErr.INVALID_SEQ });
    expect(r.pending(5)).toBe(false);
  });
  it('rejects a length above the maximum, and a new message over a half one', () => {
    const r = new Reassembler();
    const big = fromHex('00000009' + '90' + '1dba' + '00'.repeat(57));
    expect(r.push(big)).toEqual({ type: 'error', cid: 9, error: CtapHidErr.INVALID_LEN });
    const p = packetize(9, CtapHidCmd.PING, new Uint8Array(80));
    r.push(p[0]!);
    expect(r.push(p[0]!)).toEqual({ type: 'error', cid: 9, error: CtapHidErr.INVALID_SEQ });
  });
});

/** A test application: PING-like CBOR echo; a request starting 0xee waits until released. */
class EchoApp implements CtapHidApplication {
  waiting: Uint8Array | null = null;
  released = false;
  cancelled = false;
  winks = 0;
  cbor(request: Uint8Array): CtapHidReply {
    if (request[0] === 0xee) {
      this.waiting = request;
      this.released = false;
      this.cancelled = false;
      return { type: 'pending', status: KeepaliveStatus.UPNEEDED };
    }
    return { type: 'done', payload: Uint8Array.of(0, ...request) };
  }
  msg(apdu: Uint8Array): CtapHidReply {
    return { type: 'done', payload: Uint8Array.of(...apdu, 0x90, 0x00) };
  }
  wink(): void {
    this.winks++;
  }
  poll(): CtapHidReply {
    if (this.cancelled) return { type: 'done', payload: Uint8Array.of(0x2d) };
    if (this.released) return { type: 'done', payload: Uint8Array.of(0, 1) };
    return { type: 'pending', status: KeepaliveStatus.UPNEEDED };
  }
  cancel(): void {
    this.cancelled = true;
  }
}

function rig(): { dev: CtapHidDevice; app: EchoApp; clock: VirtualClock } {
  const clock = new VirtualClock({ start: 1_700_000_000_000 });
  const app = new EchoApp();
  let n = 0;
  const dev = new CtapHidDevice(app, {
    clock,
    random: () => Uint8Array.of(0, 0, 0, ++n),
    version: { major: 1, minor: 2, build: 3 },
  });
  return { dev, app, clock };
}

const initReport = (cid: number, nonce = '0102030405060708'): Uint8Array =>
  packetize(cid, CtapHidCmd.INIT, fromHex(nonce))[0]!;

function open(dev: CtapHidDevice): number {
  const [answer] = dev.handleReport(initReport(CTAPHID_BROADCAST_CID));
  return new DataView(answer!.buffer).getUint32(15);
}

const errorOf = (r: Uint8Array | undefined): number | undefined =>
  r && r[4] === (0x80 | CtapHidCmd.ERROR) ? r[7] : undefined;

describe('CtapHidDevice', () => {
  it('answers broadcast INIT with the nonce, a new channel, versions and capabilities', () => {
    const { dev } = rig();
    const out = dev.handleReport(initReport(CTAPHID_BROADCAST_CID));
    expect(out.map(toHex)).toEqual([
      // nonce | CID 00000001 | protocol 2 | 1.2.3 | WINK|CBOR (MSG implemented: no NMSG)
      'ffffffff860011' + '0102030405060708' + '00000001' + '02' + '010203' + '05' + '00'.repeat(40),
    ]);
    expect(dev.channels).toEqual([1]);
  });
  it('rejects bad channels and bad INIT lengths', () => {
    const { dev } = rig();
    expect(errorOf(dev.handleReport(packetize(0, CtapHidCmd.PING, new Uint8Array(1))[0]!)[0])).toBe(
      CtapHidErr.INVALID_CHANNEL,
    );
    expect(
      errorOf(dev.handleReport(packetize(77, CtapHidCmd.PING, new Uint8Array(1))[0]!)[0]),
    ).toBe(CtapHidErr.INVALID_CHANNEL);
    expect(
      errorOf(
        dev.handleReport(
          packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.PING, new Uint8Array(1))[0]!,
        )[0],
      ),
    ).toBe(CtapHidErr.INVALID_CHANNEL);
    expect(
      errorOf(
        dev.handleReport(
          packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.INIT, new Uint8Array(7))[0]!,
        )[0],
      ),
    ).toBe(CtapHidErr.INVALID_LEN);
    expect(dev.handleReport(new Uint8Array(10))).toEqual([]);
  });
  it('echoes PING across packets, and answers unknown commands INVALID_CMD', () => {
    const { dev } = rig();
    const cid = open(dev);
    const payload = new Uint8Array(300).map((_, i) => i & 0xff);
    const packets = packetize(cid, CtapHidCmd.PING, payload);
    const out = packets.flatMap((p) => dev.handleReport(p));
    expect(out.map(toHex)).toEqual(packets.map(toHex));
    expect(errorOf(dev.handleReport(packetize(cid, 0x55, new Uint8Array(0))[0]!)[0])).toBe(
      CtapHidErr.INVALID_CMD,
    );
  });
  it('serves one transaction: another channel gets CHANNEL_BUSY, then times out after 3 s', () => {
    const { dev, clock } = rig();
    const a = open(dev);
    const b = open(dev);
    const p = packetize(a, CtapHidCmd.PING, new Uint8Array(100));
    expect(dev.handleReport(p[0]!)).toEqual([]);
    expect(dev.busy).toBe(true);
    expect(errorOf(dev.handleReport(packetize(b, CtapHidCmd.PING, new Uint8Array(1))[0]!)[0])).toBe(
      CtapHidErr.CHANNEL_BUSY,
    );
    // A continuation on another channel is spurious: ignored.
    expect(dev.handleReport(packetize(b, CtapHidCmd.PING, new Uint8Array(100))[1]!)).toEqual([]);
    clock.advance(2999);
    expect(dev.tick()).toEqual([]);
    clock.advance(1);
    const t = dev.tick();
    expect(t.map(toHex)).toEqual([
      toHex(packetize(a, CtapHidCmd.ERROR, Uint8Array.of(CtapHidErr.MSG_TIMEOUT))[0]!),
    ]);
    expect(dev.busy).toBe(false);
  });
  it('a wrong SEQ aborts with INVALID_SEQ, and so does a new message over a half one', () => {
    const { dev } = rig();
    const cid = open(dev);
    const p = packetize(cid, CtapHidCmd.PING, new Uint8Array(200));
    dev.handleReport(p[0]!);
    expect(errorOf(dev.handleReport(p[2]!)[0])).toBe(CtapHidErr.INVALID_SEQ);
    dev.handleReport(p[0]!);
    expect(errorOf(dev.handleReport(p[0]!)[0])).toBe(CtapHidErr.INVALID_SEQ);
    expect(dev.busy).toBe(false);
  });
  it('INIT on an existing channel resynchronises it (same CID, transaction dropped)', () => {
    const { dev, app } = rig();
    const cid = open(dev);
    dev.handleReport(packetize(cid, CtapHidCmd.CBOR, Uint8Array.of(0xee))[0]!);
    expect(dev.busy).toBe(true);
    const out = dev.handleReport(initReport(cid, '1111111111111111'));
    expect(toHex(out[0]!.subarray(0, 24))).toBe(
      toHex(fromHex('00000001860011' + '1111111111111111' + '00000001' + '02010203' + '05')),
    );
    expect(app.cancelled).toBe(true);
    expect(dev.busy).toBe(false);
  });
  it('keeps alive every 100 ms while pending, answers on release', () => {
    const { dev, app, clock } = rig();
    const cid = open(dev);
    const first = dev.handleReport(packetize(cid, CtapHidCmd.CBOR, Uint8Array.of(0xee))[0]!);
    expect(toHex(first[0]!.subarray(0, 8))).toBe('00000001bb000102');
    clock.advance(50);
    expect(dev.tick()).toEqual([]);
    clock.advance(50);
    expect(dev.tick().map((r) => r[4])).toEqual([0xbb]);
    app.released = true;
    const done = dev.tick();
    expect(toHex(done[0]!.subarray(0, 9))).toBe('00000001900002' + '0001');
    expect(dev.busy).toBe(false);
  });
  it('CANCEL makes the pending request answer at once; CANCEL elsewhere is ignored', () => {
    const { dev } = rig();
    const cid = open(dev);
    const other = open(dev);
    dev.handleReport(packetize(cid, CtapHidCmd.CBOR, Uint8Array.of(0xee))[0]!);
    expect(dev.handleReport(packetize(other, CtapHidCmd.CANCEL, new Uint8Array(0))[0]!)).toEqual(
      [],
    );
    const out = dev.handleReport(packetize(cid, CtapHidCmd.CANCEL, new Uint8Array(0))[0]!);
    expect(toHex(out[0]!.subarray(0, 8))).toBe('0000000190000' + '12d');
  });
  it('LOCK keeps other channels out until it expires; more than 10 s is INVALID_PAR', () => {
    const { dev, clock } = rig();
    const a = open(dev);
    const b = open(dev);
    expect(errorOf(dev.handleReport(packetize(a, CtapHidCmd.LOCK, Uint8Array.of(11))[0]!)[0])).toBe(
      CtapHidErr.INVALID_PAR,
    );
    expect(dev.handleReport(packetize(a, CtapHidCmd.LOCK, Uint8Array.of(2))[0]!)[0]![4]).toBe(0x84);
    expect(errorOf(dev.handleReport(packetize(b, CtapHidCmd.PING, Uint8Array.of(1))[0]!)[0])).toBe(
      CtapHidErr.CHANNEL_BUSY,
    );
    expect(dev.handleReport(packetize(a, CtapHidCmd.PING, Uint8Array.of(1))[0]!)[0]![4]).toBe(0x81);
    clock.advance(2000);
    expect(dev.handleReport(packetize(b, CtapHidCmd.PING, Uint8Array.of(1))[0]!)[0]![4]).toBe(0x81);
  });
  it('WINK with data is INVALID_LEN; without, it winks', () => {
    const { dev, app } = rig();
    const cid = open(dev);
    expect(
      errorOf(dev.handleReport(packetize(cid, CtapHidCmd.WINK, Uint8Array.of(1))[0]!)[0]),
    ).toBe(CtapHidErr.INVALID_LEN);
    expect(dev.handleReport(packetize(cid, CtapHidCmd.WINK, new Uint8Array(0))[0]!)[0]![4]).toBe(
      0x88,
    );
    expect(app.winks).toBe(1);
  });
  it('never throws on random reports, and every answer is a 64-byte report', () => {
    const { dev, clock } = rig();
    open(dev);
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 64, maxLength: 64 }), { maxLength: 8 }),
        (reports) => {
          for (const r of reports) {
            // Aim a quarter at the open channel so they get past the channel check.
            if (r[0]! < 64) r.set([0, 0, 0, 1]);
            for (const out of dev.handleReport(r)) expect(out).toHaveLength(64);
          }
          clock.advance(5000);
          for (const out of dev.tick()) expect(out).toHaveLength(64);
        },
      ),
      { numRuns: 500 },
    );
  });
});

/** The EchoApp behind a device, as a HidDeviceFirmware the transport can carry. */
function firmware(): { fw: HidDeviceFirmware; app: EchoApp } {
  const app = new EchoApp();
  const dev = new CtapHidDevice(app, { clock: { now: () => Date.now() } });
  const fw: HidDeviceFirmware = {
    handleReport: (r) => dev.handleReport(r),
    tick: () => dev.tick(),
    get busy() {
      return dev.busy;
    },
    powerCycle: () => dev.reset(),
  };
  return { fw, app };
}

describe('CtapHidClient over the in-process transport', () => {
  it('opens a channel, pings, winks, locks, sends CBOR and MSG', async () => {
    const { fw, app } = firmware();
    const client = await CtapHidClient.open(await VirtualHidTransport.open(fw));
    expect(client.info.protocolVersion).toBe(2);
    expect(client.cid).not.toBe(CTAPHID_BROADCAST_CID);
    const big = new Uint8Array(1000).map((_, i) => i % 251);
    expect(await client.ping(big)).toEqual(big);
    await client.wink();
    expect(app.winks).toBe(1);
    await client.lock(1);
    await client.lock(0);
    expect(await client.cbor(Uint8Array.of(4))).toEqual(Uint8Array.of(0, 4));
    expect(await client.msg(Uint8Array.of(0, 3, 0, 0))).toEqual(Uint8Array.of(0, 3, 0, 0, 0x90, 0));
    await expect(client.lock(11)).rejects.toThrow(RangeError);
    await client.close();
  });
  it('follows keepalives until the answer comes', async () => {
    const { fw, app } = firmware();
    const client = await CtapHidClient.open(await VirtualHidTransport.open(fw, { tickMs: 10 }));
    const statuses: number[] = [];
    const pending = client.cbor(Uint8Array.of(0xee), {
      onKeepalive: (s) => {
        statuses.push(s);
        if (statuses.length === 3) app.released = true;
      },
    });
    expect(await pending).toEqual(Uint8Array.of(0, 1));
    expect(statuses.slice(0, 3)).toEqual([2, 2, 2]);
    await client.close();
  });
  it('an abort signal sends CANCEL and returns the device answer', async () => {
    const { fw } = firmware();
    const client = await CtapHidClient.open(await VirtualHidTransport.open(fw, { tickMs: 10 }));
    const ac = new AbortController();
    const res = await client.cbor(Uint8Array.of(0xee), {
      signal: ac.signal,
      onKeepalive: () => ac.abort(),
    });
    expect(res).toEqual(Uint8Array.of(0x2d));
    await client.close();
  });
  it('turns CTAPHID_ERROR into CtapHidError with code and status', async () => {
    const { fw } = firmware();
    const client = await CtapHidClient.open(await VirtualHidTransport.open(fw));
    const err = await client.cbor(new Uint8Array(0)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CtapHidError);
    expect(err).toMatchObject({ code: 'ERR_INVALID_LEN', status: CtapHidErr.INVALID_LEN });
    await client.close();
  });
  it('times out with code timeout when nothing answers', async () => {
    const silent: HidDeviceFirmware = {
      handleReport: () => [],
      tick: () => [],
      busy: false,
      powerCycle: () => {},
    };
    const err = await CtapHidClient.open(await VirtualHidTransport.open(silent), {
      timeoutMs: 100,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CtapHidError);
    expect(err).toMatchObject({ code: 'timeout' });
  });
});

/** A device that answers every request with the reports `script` makes from it. */
function liar(script: (req: Uint8Array, cid: number) => Uint8Array[]): HidDeviceFirmware {
  let cid = 0x01020304;
  return {
    handleReport(r) {
      const rc = new DataView(r.buffer, r.byteOffset).getUint32(0);
      if (rc === CTAPHID_BROADCAST_CID && r[4] === 0x86) {
        const payload = new Uint8Array(17);
        payload.set(r.subarray(7, 15));
        new DataView(payload.buffer).setUint32(8, cid);
        payload[12] = 2;
        return packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.INIT, payload);
      }
      return script(r, cid);
    },
    tick: () => [],
    busy: false,
    powerCycle: () => {
      cid++;
    },
  };
}

describe('CtapHidClient against a misbehaving device', () => {
  it('an answer with the wrong command is bad-response', async () => {
    const fw = liar((_r, cid) => packetize(cid, CtapHidCmd.PING, Uint8Array.of(1)));
    const c = await CtapHidClient.open(await VirtualHidTransport.open(fw));
    await expect(c.cbor(Uint8Array.of(4))).rejects.toMatchObject({ code: 'bad-response' });
  });
  it('an answer with a sequence gap is bad-response', async () => {
    const fw = liar((_r, cid) => {
      const p = packetize(cid, CtapHidCmd.CBOR, new Uint8Array(200));
      return [p[0]!, p[2]!, p[3]!];
    });
    const c = await CtapHidClient.open(await VirtualHidTransport.open(fw));
    await expect(c.cbor(Uint8Array.of(4))).rejects.toMatchObject({ code: 'bad-response' });
  });
  it('skips reports for other channels and stray continuations', async () => {
    const fw = liar((_r, cid) => [
      ...packetize(cid + 1, CtapHidCmd.CBOR, Uint8Array.of(9)),
      packetize(cid, CtapHidCmd.CBOR, new Uint8Array(100))[1]!,
      ...packetize(cid, CtapHidCmd.CBOR, Uint8Array.of(0, 7)),
    ]);
    const c = await CtapHidClient.open(await VirtualHidTransport.open(fw));
    expect(await c.cbor(Uint8Array.of(4))).toEqual(Uint8Array.of(0, 7));
  });
  it('an ERROR on the broadcast channel fails INIT with that code', async () => {
    const fw: HidDeviceFirmware = {
      handleReport: () => [
        packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.ERROR, Uint8Array.of(6))[0]!,
      ],
      tick: () => [],
      busy: false,
      powerCycle: () => {},
    };
    await expect(CtapHidClient.open(await VirtualHidTransport.open(fw))).rejects.toMatchObject({
      code: 'ERR_CHANNEL_BUSY',
      status: 6,
    });
  });
  it('INIT answers carrying another nonce are not ours', async () => {
    const fw: HidDeviceFirmware = {
      handleReport: (r) => {
        const other = new Uint8Array(17);
        other.set(r.subarray(7, 15));
        other[0]! ^= 0xff;
        return packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.INIT, other);
      },
      tick: () => [],
      busy: false,
      powerCycle: () => {},
    };
    await expect(
      CtapHidClient.open(await VirtualHidTransport.open(fw), { timeoutMs: 150 }),
    ).rejects.toMatchObject({ code: 'timeout' });
  });
});
