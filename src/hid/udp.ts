/**
 * HID over UDP, the SoloKeys desktop simulator's convention: the device listens on 127.0.0.1:8111,
 * one datagram carries one 64-byte report, and it answers to the host's port 7112. A fixed
 * 64-byte "magic" datagram (from the solo1 test suite) power-cycles the simulated device.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIP } from 'node:net';
import { HidError } from './errors.js';
import {
  HID_REPORT_SIZE,
  type HidDescriptor,
  type HidDeviceFirmware,
  type HidTransport,
} from './port.js';
import { checkReport, ReportQueue } from './queue.js';

/** The simulator convention's device port. */
export const UDP_DEVICE_PORT = 8111;
/** The simulator convention's host port: where the device sends its answers. */
export const UDP_HOST_PORT = 7112;

/**
 * The datagram the SoloKeys test tools send to make their simulator reboot (64 random-looking
 * bytes that no CTAPHID packet will ever equal by accident).
 */
export const UDP_REBOOT_DATAGRAM: Uint8Array = Uint8Array.from(
  Buffer.from(
    'ac1052ca95e569de69e02ebff333485f13f9b2da34c5a8a340526697a9ab2e0b' +
      '394d8d04973c134005be1a0140bff6045bb26eb77a73eaa47813f6b49a7250dc',
    'hex',
  ),
);

/** A parsed `udp:HOST:PORT` address. */
export interface UdpAddress {
  readonly host: string;
  readonly port: number;
}

/**
 * Parses `udp:HOST:PORT`, `udp:PORT`, `udp:[V6]:PORT` (the `udp:` prefix may be left out when
 * `requirePrefix` is false). Throws HidError 'bad-address' with one line otherwise.
 */
export function parseUdpAddress(address: string, requirePrefix = true): UdpAddress {
  if (typeof address !== 'string')
    throw new HidError('bad-address', 'a UDP address must be a string');
  let rest = address;
  if (rest.startsWith('udp:')) rest = rest.slice(4);
  else if (requirePrefix)
    throw new HidError('bad-address', `not a UDP address (want udp:HOST:PORT): ${address}`);
  let host = '127.0.0.1';
  let portText = rest;
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    host = v6[1] ?? '';
    portText = v6[2] ?? '';
  } else if (rest.includes(':')) {
    const at = rest.lastIndexOf(':');
    host = rest.slice(0, at);
    portText = rest.slice(at + 1);
  }
  if (host === 'localhost') host = '127.0.0.1';
  if (!/^\d{1,5}$/.test(portText) || Number(portText) > 65535) {
    throw new HidError('bad-address', `bad UDP port in ${JSON.stringify(address)} (want 0-65535)`);
  }
  if (host === '' || (!isIP(host) && !/^[A-Za-z0-9.-]+$/.test(host))) {
    throw new HidError('bad-address', `bad UDP host in ${JSON.stringify(address)}`);
  }
  return { host, port: Number(portText) };
}

/** Formats an address the way {@link parseUdpAddress} reads it. */
export function formatUdpAddress(a: UdpAddress): string {
  return `udp:${a.host.includes(':') ? `[${a.host}]` : a.host}:${a.port}`;
}

function socketError(e: unknown, what: string): HidError {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'EADDRINUSE')
    return new HidError('address-in-use', `${what} is already in use`, { cause: e });
  if (code === 'ECONNREFUSED')
    return new HidError('not-found', `nothing answers on ${what}`, { cause: e });
  return new HidError(
    'io',
    `UDP error on ${what}: ${code ?? (e instanceof Error ? e.message : String(e))}`,
    {
      cause: e,
    },
  );
}

function bind(socket: Socket, port: number, host: string, what: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: unknown) => reject(socketError(e, what));
    socket.once('error', onError);
    socket.bind(port, host, () => {
      socket.off('error', onError);
      resolve();
    });
  });
}

// ---------------------------------------------------------------------------------------------
// Device side.

/** Options of {@link serveHidOverUdp}. */
export interface UdpServeOptions {
  /** Address to listen on; default 127.0.0.1. */
  readonly host?: string;
  /** Device port; default 8111 (0 picks a free one). */
  readonly port?: number;
  /**
   * Where answers go on the sender's host: a port (default 7112, the convention), or 'sender' to
   * answer to whichever port the datagram came from (lets many hosts and tests run at once).
   */
  readonly hostPort?: number | 'sender';
  /** Firmware tick period while busy; default 50 ms. */
  readonly tickMs?: number;
  /** Called after the reboot datagram has power-cycled the firmware. */
  readonly onReboot?: () => void;
  /** Called after each report the firmware handled (e.g. to persist its state). */
  readonly onReport?: () => void;
  /**
   * Offered every datagram that is neither a report nor the reboot datagram (a side channel for
   * simulator controls); return true when it was understood, else it counts as malformed.
   */
  readonly onOtherDatagram?: (datagram: Uint8Array, from: UdpAddress) => boolean;
}

/** A running UDP device. */
export interface UdpHidServer {
  /** Where it listens (the port is the real one when 0 was asked for). */
  readonly address: UdpAddress;
  /** Datagrams ignored because they were not 64 bytes. */
  readonly malformed: number;
  /** Reboot datagrams obeyed. */
  readonly reboots: number;
  close(): Promise<void>;
}

/**
 * Serves `firmware` as a UDP HID device. Datagrams that are not exactly 64 bytes are ignored (a
 * USB HID endpoint never delivers them); the reboot datagram calls firmware.powerCycle().
 */
export async function serveHidOverUdp(
  firmware: HidDeviceFirmware,
  options: UdpServeOptions = {},
): Promise<UdpHidServer> {
  const host = options.host ?? '127.0.0.1';
  const port = options.port ?? UDP_DEVICE_PORT;
  const hostPort = options.hostPort ?? UDP_HOST_PORT;
  const tickMs = options.tickMs ?? 50;
  const socket = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
  await bind(socket, port, host, `UDP port ${host}:${port}`);
  let malformed = 0;
  let reboots = 0;
  let closed = false;
  let lastHost: { address: string; port: number } | undefined;
  let ticker: NodeJS.Timeout | undefined;

  const send = (reports: Uint8Array[]) => {
    if (!lastHost || closed) return;
    for (const r of reports) socket.send(r, lastHost.port, lastHost.address);
  };
  const updateTicking = () => {
    if (firmware.busy && !closed) {
      ticker ??= setInterval(() => {
        send(firmware.tick());
        options.onReport?.();
        if (!firmware.busy && ticker) {
          clearInterval(ticker);
          ticker = undefined;
        }
      }, tickMs);
    } else if (ticker) {
      clearInterval(ticker);
      ticker = undefined;
    }
  };

  socket.on('message', (msg: Buffer, from: RemoteInfo) => {
    if (closed) return;
    const isReboot =
      msg.length === UDP_REBOOT_DATAGRAM.length && Buffer.from(UDP_REBOOT_DATAGRAM).equals(msg);
    if (msg.length !== HID_REPORT_SIZE || isReboot) {
      if (isReboot) {
        firmware.powerCycle();
        reboots++;
        updateTicking();
        options.onReboot?.();
      } else if (
        !options.onOtherDatagram?.(new Uint8Array(msg), { host: from.address, port: from.port })
      ) {
        malformed++;
      }
      return;
    }
    // Answers go to whoever spoke last, like the simulator (one host at a time).
    lastHost = { address: from.address, port: hostPort === 'sender' ? from.port : hostPort };
    send(firmware.handleReport(new Uint8Array(msg)));
    options.onReport?.();
    updateTicking();
  });
  // An ICMP "port unreachable" for an answer (host gone) must not take the device down.
  socket.on('error', () => undefined);

  const bound = socket.address();
  return {
    address: { host: bound.address, port: bound.port },
    get malformed() {
      return malformed;
    },
    get reboots() {
      return reboots;
    },
    close: () =>
      new Promise<void>((resolve) => {
        if (closed) return resolve();
        closed = true;
        if (ticker) clearInterval(ticker);
        socket.close(() => resolve());
      }),
  };
}

// ---------------------------------------------------------------------------------------------
// Host side.

/** Options of {@link UdpHidTransport.open}. */
export interface UdpOpenOptions {
  /** Local port answers arrive on; default 7112 (the convention); 0 picks a free one. */
  readonly localPort?: number;
  /** Local address; default the same family's loopback. */
  readonly localHost?: string;
}

/** A HidTransport to a device that speaks HID over UDP (our `chip serve`, the SoloKeys simulator). */
export class UdpHidTransport implements HidTransport {
  readonly descriptor: HidDescriptor;
  /** The local address answers arrive on. */
  readonly local: UdpAddress;
  readonly #socket: Socket;
  readonly #queue = new ReportQueue();
  #writing = false;
  #closed = false;
  #error: HidError | undefined;

  private constructor(socket: Socket, remote: UdpAddress, local: UdpAddress) {
    this.#socket = socket;
    this.local = local;
    this.descriptor = { transport: 'udp', path: formatUdpAddress(remote), product: 'HID over UDP' };
    socket.on('message', (msg: Buffer, from: RemoteInfo) => {
      // Only the device's own datagrams, and only whole reports.
      if (from.port !== remote.port || msg.length !== HID_REPORT_SIZE) return;
      this.#queue.push(new Uint8Array(msg));
    });
    socket.on('error', (e) => {
      // A connected UDP socket learns of an absent device from ICMP; later reads should say so.
      this.#error = socketError(e, formatUdpAddress(remote));
      this.#queue.close(this.#error);
    });
  }

  /** Opens `udp:HOST:PORT` (host defaults to 127.0.0.1, port to 8111 when only `udp:` is given). */
  static async open(address: string, options: UdpOpenOptions = {}): Promise<UdpHidTransport> {
    const remote = parseUdpAddress(address === 'udp:' ? `udp:${UDP_DEVICE_PORT}` : address);
    const v6 = isIP(remote.host) === 6;
    const localHost = options.localHost ?? (v6 ? '::1' : '127.0.0.1');
    const localPort = options.localPort ?? UDP_HOST_PORT;
    const socket = createSocket(v6 ? 'udp6' : 'udp4');
    try {
      await bind(socket, localPort, localHost, `local UDP port ${localHost}:${localPort}`);
      await new Promise<void>((resolve, reject) => {
        socket.connect(remote.port, remote.host, (e?: Error) =>
          e ? reject(socketError(e, address)) : resolve(),
        );
      });
    } catch (e) {
      try {
        socket.close();
      } catch {
        // already closed
      }
      throw e;
    }
    const local = socket.address();
    return new UdpHidTransport(socket, remote, { host: local.address, port: local.port });
  }

  write(report: Uint8Array): Promise<void> {
    if (this.#closed) return Promise.reject(new HidError('closed', 'the HID transport is closed'));
    if (this.#error) return Promise.reject(this.#error);
    try {
      checkReport(report, HID_REPORT_SIZE, 'output report');
    } catch (e) {
      return Promise.reject(e);
    }
    if (this.#writing) {
      return Promise.reject(
        new HidError('busy', 'a HID write is already in flight; await it first'),
      );
    }
    this.#writing = true;
    return new Promise((resolve, reject) => {
      this.#socket.send(report, (e) => {
        this.#writing = false;
        if (e) reject(socketError(e, this.descriptor.path));
        else resolve();
      });
    });
  }

  read(timeoutMs: number): Promise<Uint8Array> {
    return this.#queue.read(timeoutMs);
  }

  /** Sends the simulator's reboot datagram (power-cycles a simulated device). */
  reboot(): Promise<void> {
    if (this.#closed) return Promise.reject(new HidError('closed', 'the HID transport is closed'));
    return new Promise((resolve, reject) =>
      this.#socket.send(UDP_REBOOT_DATAGRAM, (e) =>
        e ? reject(socketError(e, this.descriptor.path)) : resolve(),
      ),
    );
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#queue.close(new HidError('closed', 'the HID transport is closed'));
    return new Promise((resolve) => this.#socket.close(() => resolve()));
  }
}
