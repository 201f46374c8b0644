// A synchronous host for the chip firmware: CTAPHID through packetize/Reassembler, CTAP2 calls,
// and a platform-side PIN/UV auth protocol written straight on node:crypto (not the chip's code).
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  createHmac,
  hkdfSync,
  randomBytes,
} from 'node:crypto';
import { VirtualClock, concatBytes } from '../../src/core/index.js';
import { decodeCbor, encodeCbor, type CborMap } from '../../src/ctap/cbor.js';
import {
  CTAPHID_BROADCAST_CID,
  CtapHidCmd,
  Reassembler,
  packetize,
} from '../../src/ctap/ctaphid.js';
import { ChipFirmware, deterministicRandom, type UpMode } from '../../firmware-sim/chip/index.js';

export const START = Date.UTC(2026, 10, 25, 12, 0, 0);

/** A chip and a virtual clock, made deterministically from `seed`. */
export function makeChip(
  seed = 'chip-test',
  upMode: UpMode = 'auto',
): { fw: ChipFirmware; clock: VirtualClock; host: Host } {
  const clock = new VirtualClock({ start: START });
  const fw = ChipFirmware.manufacture({
    serial: 'CHIP-0001',
    clock,
    random: deterministicRandom(seed),
    upMode,
  });
  return { fw, clock, host: new Host(fw, clock) };
}

/** What one CTAPHID exchange produced. */
export interface Exchange {
  readonly cmd: number;
  readonly payload: Uint8Array;
  readonly keepalives: number[];
  /** Every report the device sent, in order. */
  readonly reports: Uint8Array[];
}

/** A CTAP2 answer: the status byte and the decoded body (if any). */
export interface CtapAnswer {
  readonly status: number;
  readonly body: CborMap | undefined;
}

export class Host {
  cid = 0;
  constructor(
    readonly fw: ChipFirmware,
    readonly clock: VirtualClock,
  ) {
    this.init();
  }

  init(): void {
    const nonce = randomBytes(8);
    const [r] = this.fw.handleReport(packetize(CTAPHID_BROADCAST_CID, CtapHidCmd.INIT, nonce)[0]!);
    if (!r || !Buffer.from(r.subarray(7, 15)).equals(nonce)) throw new Error('INIT failed');
    this.cid = new DataView(r.buffer, r.byteOffset).getUint32(15);
  }

  /** Sends a message; collects reports, ticking in 100 ms steps while the device keeps alive. */
  exchange(cmd: number, payload: Uint8Array, during?: (keepalives: number) => void): Exchange {
    const reports: Uint8Array[] = [];
    for (const p of packetize(this.cid, cmd, payload)) reports.push(...this.fw.handleReport(p));
    return this.collect(cmd, reports, during);
  }

  /** Reads on from `reports`, ticking the clock, until a full answer on our channel. */
  collect(cmd: number, reports: Uint8Array[], during?: (keepalives: number) => void): Exchange {
    const r = new Reassembler();
    const keepalives: number[] = [];
    let i = 0;
    for (let guard = 0; guard < 10_000; guard++) {
      while (i < reports.length) {
        const rep = reports[i++]!;
        if (rep.length !== 64) throw new Error('device sent a report that is not 64 bytes');
        if (new DataView(rep.buffer, rep.byteOffset).getUint32(0) !== this.cid) continue;
        if (rep[4] === (0x80 | CtapHidCmd.KEEPALIVE)) {
          keepalives.push(rep[7]!);
          continue;
        }
        const res = r.push(rep);
        if (res.type === 'complete')
          return { cmd: res.cmd, payload: res.payload, keepalives, reports };
        if (res.type === 'error') throw new Error('device answer broke framing');
      }
      during?.(keepalives.length);
      this.clock.advance(100);
      reports.push(...this.fw.tick());
    }
    throw new Error('no answer');
  }

  /** A CTAP2 command: the status and the decoded CBOR body. */
  ctap(
    command: number,
    params?: Map<number, unknown>,
    during?: (keepalives: number) => void,
  ): CtapAnswer {
    const body = params ? encodeCbor(params) : new Uint8Array(0);
    const x = this.exchange(CtapHidCmd.CBOR, concatBytes(Uint8Array.of(command), body), during);
    if (x.cmd !== CtapHidCmd.CBOR) throw new Error(`answer was command ${x.cmd}`);
    const status = x.payload[0]!;
    return {
      status,
      body:
        x.payload.length > 1
          ? (decodeCbor(x.payload.subarray(1), { maxDepth: 8 }) as CborMap)
          : undefined,
    };
  }

  /** A CTAP1 APDU over MSG. */
  apdu(apdu: Uint8Array): { data: Uint8Array; sw: number } {
    const x = this.exchange(CtapHidCmd.MSG, apdu);
    const p = x.payload;
    return { data: p.subarray(0, p.length - 2), sw: (p[p.length - 2]! << 8) | p[p.length - 1]! };
  }
}

// ---------------------------------------------------------------------------------------------
// The platform side of PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7), independently.

const sha256 = (b: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(b).digest());
const hmac = (k: Uint8Array, m: Uint8Array): Uint8Array =>
  new Uint8Array(createHmac('sha256', k).update(m).digest());

export class Platform {
  readonly ecdh = createECDH('prime256v1');
  shared: Uint8Array = new Uint8Array(0);
  constructor(
    readonly host: Host,
    readonly protocol: 1 | 2,
  ) {
    this.ecdh.generateKeys();
  }

  /** getKeyAgreement, then ECDH and the protocol's KDF. */
  agree(): Map<number, unknown> {
    const a = this.host.ctap(
      0x06,
      new Map<number, unknown>([
        [1, this.protocol],
        [2, 2],
      ]),
    );
    if (a.status !== 0) throw new Error(`getKeyAgreement failed: ${a.status}`);
    const cose = a.body!.get(1) as Map<number, unknown>;
    const point = concatBytes(
      Uint8Array.of(4),
      cose.get(-2) as Uint8Array,
      cose.get(-3) as Uint8Array,
    );
    const z = new Uint8Array(this.ecdh.computeSecret(point));
    if (this.protocol === 1) this.shared = sha256(z);
    else {
      const salt = new Uint8Array(32);
      this.shared = concatBytes(
        new Uint8Array(hkdfSync('sha256', z, salt, 'CTAP2 HMAC key', 32)),
        new Uint8Array(hkdfSync('sha256', z, salt, 'CTAP2 AES key', 32)),
      );
    }
    const pub = new Uint8Array(this.ecdh.getPublicKey());
    return new Map<number, unknown>([
      [1, 2],
      [3, -25],
      [-1, 1],
      [-2, pub.slice(1, 33)],
      [-3, pub.slice(33, 65)],
    ]);
  }

  encrypt(data: Uint8Array): Uint8Array {
    const key = this.protocol === 1 ? this.shared : this.shared.subarray(32);
    const iv = this.protocol === 1 ? new Uint8Array(16) : new Uint8Array(randomBytes(16));
    const c = createCipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    const ct = concatBytes(new Uint8Array(c.update(data)), new Uint8Array(c.final()));
    return this.protocol === 1 ? ct : concatBytes(iv, ct);
  }

  decrypt(data: Uint8Array): Uint8Array {
    const key = this.protocol === 1 ? this.shared : this.shared.subarray(32);
    const iv = this.protocol === 1 ? new Uint8Array(16) : data.subarray(0, 16);
    const ct = this.protocol === 1 ? data : data.subarray(16);
    const d = createDecipheriv('aes-256-cbc', key, iv).setAutoPadding(false);
    return concatBytes(new Uint8Array(d.update(ct)), new Uint8Array(d.final()));
  }

  authenticate(key: Uint8Array, message: Uint8Array): Uint8Array {
    if (this.protocol === 1) return hmac(key, message).subarray(0, 16);
    return hmac(key.length === 64 ? key.subarray(0, 32) : key, message);
  }

  static padPin(pin: string): Uint8Array {
    const out = new Uint8Array(64);
    out.set(new TextEncoder().encode(pin));
    return out;
  }

  setPin(pin: string): number {
    const ka = this.agree();
    const newPinEnc = this.encrypt(Platform.padPin(pin));
    return this.host.ctap(
      0x06,
      new Map<number, unknown>([
        [1, this.protocol],
        [2, 3],
        [3, ka],
        [4, this.authenticate(this.shared, newPinEnc)],
        [5, newPinEnc],
      ]),
    ).status;
  }

  changePin(oldPin: string, pin: string): number {
    const ka = this.agree();
    const newPinEnc = this.encrypt(Platform.padPin(pin));
    const pinHashEnc = this.encrypt(sha256(new TextEncoder().encode(oldPin)).subarray(0, 16));
    return this.host.ctap(
      0x06,
      new Map<number, unknown>([
        [1, this.protocol],
        [2, 4],
        [3, ka],
        [4, this.authenticate(this.shared, concatBytes(newPinEnc, pinHashEnc))],
        [5, newPinEnc],
        [6, pinHashEnc],
      ]),
    ).status;
  }

  /** getPinToken (0x05) or, with permissions, getPinUvAuthTokenUsingPinWithPermissions (0x09). */
  token(pin: string, permissions?: number, rpId?: string): { status: number; token?: Uint8Array } {
    const ka = this.agree();
    const pinHashEnc = this.encrypt(sha256(new TextEncoder().encode(pin)).subarray(0, 16));
    const params = new Map<number, unknown>([
      [1, this.protocol],
      [2, permissions === undefined ? 5 : 9],
      [3, ka],
      [6, pinHashEnc],
    ]);
    if (permissions !== undefined) params.set(9, permissions);
    if (rpId !== undefined) params.set(10, rpId);
    const a = this.host.ctap(0x06, params);
    if (a.status !== 0) return { status: a.status };
    return { status: 0, token: this.decrypt(a.body!.get(2) as Uint8Array) };
  }

  retries(): number {
    const a = this.host.ctap(
      0x06,
      new Map<number, unknown>([
        [1, this.protocol],
        [2, 1],
      ]),
    );
    return a.body!.get(3) as number;
  }
}
