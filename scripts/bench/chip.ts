/**
 * Chip figures: getAssertion through the whole stack (driver, CTAPHID framing, transport,
 * firmware) against raw node:crypto ECDSA P-256 signing, in process and over UDP. Each operation
 * is a `Chip.prove`: the driver builds clientDataJSON and hashes it per call, as a browser does.
 */
import { createSocket } from 'node:dgram';
import { createHash, createSign, generateKeyPairSync, randomBytes, verify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { systemClock } from '../../src/core/clock.js';
import { packetize } from '../../src/ctap/ctaphid.js';
import { encodeCbor } from '../../src/ctap/cbor.js';
import { serveHidOverUdp, UdpHidTransport, type UdpHidServer } from '../../src/hid/udp.js';
import { VirtualHidTransport } from '../../src/hid/virtual.js';
import type { HidTransport } from '../../src/hid/port.js';
import { ChipFirmware } from '../../firmware-sim/chip/index.js';
import { Chip } from '../../devices/chip/chip.js';
import { parseAuthData, sha256 } from '../../devices/chip/webauthn.js';
import { p256ToCose, coseToP256 } from '../../devices/chip/pin.js';
import type { BenchCase, BenchModule, Contender } from './harness.js';

const RP_ID = 'bench.mitid.example';
/** How long the chip path runs untimed before the harness starts (see setUp's warm). */
const WARM_UP_MS = 1500;
const ORIGIN = `https://${RP_ID}`;

/**
 * A chip with one credential, and the driver (`Chip`) over `transport`. With `count`, reports
 * are counted (so the UDP limit moves exactly as many datagrams as one exchange does); without,
 * the driver talks to the transport directly, with no promise of the bench's own per report.
 */
async function setUp(open: (fw: ChipFirmware) => Promise<HidTransport>, count = false) {
  const firmware = ChipFirmware.manufacture({ serial: 'BENCH-1', clock: systemClock });
  const inner = await open(firmware);
  const counts = { out: 0, in: 0 };
  const transport: HidTransport = count
    ? {
        descriptor: inner.descriptor,
        write: (r) => (counts.out++, inner.write(r)),
        read: (t) => inner.read(t).then((r) => (counts.in++, r)),
        close: () => inner.close(),
      }
    : inner;
  const chip = await Chip.fromTransport(transport);
  const hid = chip.hid;
  const made = await chip.ctap.makeCredential({
    clientDataHash: new Uint8Array(createHash('sha256').update('bench').digest()),
    rp: { id: RP_ID },
    user: { id: new Uint8Array(randomBytes(16)), name: 'bench' },
  });
  const publicKey = coseToP256(made.parsed.credentialPublicKey as Map<number, unknown>);
  // What a relying party hands the browser at a login; the driver turns it into clientDataJSON
  // and hashes that on every call, as a browser does.
  const challenge = {
    rpId: RP_ID,
    origin: ORIGIN,
    challenge: new Uint8Array(randomBytes(32)),
    allowCredentials: [made.credentialId],
  };
  const contender = (label: string): Contender => ({
    label,
    async run(n) {
      let signed = 0;
      for (let i = 0; i < n; i++) {
        const a = await chip.prove(challenge);
        signed += a.signature.length > 0 ? 1 : 0;
      }
      return signed;
    },
  });
  const reports = async () => {
    const before = { ...counts };
    await chip.prove(challenge);
    return { out: counts.out - before.out, in: counts.in - before.in };
  };
  // One assertion checked end to end, so a fast wrong answer cannot pass as a figure.
  const check = async () => {
    const a = await chip.prove(challenge);
    const signed = Buffer.concat([a.authenticatorData, sha256(a.clientDataJSON)]);
    if (!verify('sha256', signed, publicKey, a.signature))
      throw new Error('chip signature does not verify');
    if ((parseAuthData(a.authenticatorData).flags & 0x01) === 0)
      throw new Error('user presence flag missing');
  };
  /**
   * Runs Chip.prove untimed until `ms` have passed. The path crosses some eighty functions (driver,
   * CBOR both ways, CTAPHID both ways, transport, firmware) that V8 optimises one by one as they get
   * hot; with the harness's short warm-up most of them were still being compiled during the timed
   * slices (the bench runs --single-threaded, so compiling is charged to the slice it falls in:
   * 10-20 ms each for the larger ones against 4 ms slices), which made the figure swing between
   * 0.25x and 0.55x. Warmed here, the slices time the steady state the harness means to time. The
   * work and the check are unchanged.
   */
  const warm = async (ms: number) => {
    const end = performance.now() + ms;
    while (performance.now() < end) for (let i = 0; i < 50; i++) await chip.prove(challenge);
  };
  // The firmware figure's request carries the hash of the same clientDataJSON.
  const clientDataHash = sha256((await chip.prove(challenge)).clientDataJSON);
  /**
   * The firmware alone: the same request's reports handed to handleReport, no host stack. Tells
   * how much of the gap to the limit is the device and how much the driver and transport.
   */
  const body = encodeCbor(
    new Map<number, unknown>([
      [1, RP_ID],
      [2, clientDataHash],
      [3, [{ id: made.credentialId, type: 'public-key' }]],
    ]),
  );
  const request = new Uint8Array(1 + body.length);
  request[0] = 0x02;
  request.set(body, 1);
  const packets = packetize(hid.cid, 0x10, request);
  const firmwareOnly: Contender = {
    label: 'ChipFirmware.handleReport alone',
    run(n) {
      let answers = 0;
      for (let i = 0; i < n; i++)
        for (const p of packets) answers += firmware.handleReport(p).length;
      return answers;
    },
  };
  return { contender, check, reports, firmwareOnly, warm, close: () => chip.close() };
}

/** The limit: ECDSA P-256 signatures over authenticator data + client data hash, nothing else. */
function rawSign(): Contender {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const data = randomBytes(37 + 32);
  // Touch the COSE conversion once so both sides hold a ready KeyObject.
  coseToP256(p256ToCose(publicKey, -7));
  return {
    label: 'node:crypto ECDSA P-256 sign',
    run(n) {
      let total = 0;
      for (let i = 0; i < n; i++)
        total += createSign('sha256').update(data).sign(privateKey).length;
      return total;
    },
  };
}

/**
 * The UDP limit: a bare datagram echo with the same number of 64-byte datagrams each way as one
 * getAssertion exchange, between two sockets of this process.
 */
async function rawUdp(reportsOut: number, reportsIn: number) {
  const dev = createSocket('udp4');
  const host = createSocket('udp4');
  await new Promise<void>((r) => dev.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => host.bind(0, '127.0.0.1', () => r()));
  let seen = 0;
  dev.on('message', (_m, from) => {
    if (++seen % reportsOut === 0)
      for (let i = 0; i < reportsIn; i++) dev.send(Buffer.alloc(64), from.port, from.address);
  });
  let waiting: (() => void) | undefined;
  let got = 0;
  host.on('message', () => {
    if (++got % reportsIn === 0) waiting?.();
  });
  const devPort = dev.address().port;
  const contender: Contender = {
    label: 'bare UDP datagram echo (same report counts)',
    async run(n) {
      for (let i = 0; i < n; i++) {
        const done = new Promise<void>((r) => (waiting = r));
        for (let k = 0; k < reportsOut; k++) host.send(Buffer.alloc(64), devPort, '127.0.0.1');
        await done;
      }
      return n;
    },
  };
  return { contender, close: () => (dev.close(), host.close()) };
}

async function chipCases(): Promise<BenchCase[]> {
  const inProc = await setUp((fw) => VirtualHidTransport.open(fw, { path: 'bench' }));
  let server: UdpHidServer | undefined;
  const overUdp = await setUp(async (fw) => {
    server = await serveHidOverUdp(fw, { port: 0, hostPort: 'sender' });
    return UdpHidTransport.open(`udp:127.0.0.1:${server.address.port}`, { localPort: 0 });
  }, true);
  // Until V8 has optimised the path (see warm); the UDP case runs the same driver and firmware.
  await inProc.warm(WARM_UP_MS);
  await overUdp.warm(WARM_UP_MS / 2);
  const perExchange = await overUdp.reports();
  const echo = await rawUdp(perExchange.out, perExchange.in);
  return [
    {
      name: 'chip.getAssertion.inproc',
      description:
        'Chip.prove (clientDataJSON hashed per call, CTAP2 getAssertion) through driver, CTAPHID and the in-process transport',
      unit: 'assertions/s',
      ours: inProc.contender('mitid-sim Chip.prove over VirtualHidTransport'),
      limit: rawSign(),
      check: inProc.check,
      teardown: inProc.close,
    },
    {
      name: 'chip.getAssertion.firmware',
      description:
        'the firmware alone on the same request (no driver, framing client or transport)',
      unit: 'assertions/s',
      ours: inProc.firmwareOnly,
      limit: rawSign(),
    },
    {
      name: 'chip.getAssertion.udp',
      description: 'the same over HID-over-UDP (serve and client in one process), wall clock',
      unit: 'assertions/s',
      ours: overUdp.contender('mitid-sim Chip.prove over UdpHidTransport'),
      limit: echo.contender,
      check: overUdp.check,
      clock: 'wall',
      teardown: async () => {
        await overUdp.close();
        await server?.close();
        echo.close();
      },
    },
  ];
}

/** The chip group. */
export const chipBench: BenchModule = { group: 'chip', cases: chipCases };
