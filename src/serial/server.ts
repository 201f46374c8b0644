/** Serving a device on a serial line: read request lines, call the SerialTarget, write one answer each. */
import type { SerialPort } from 'serialport';
import { isMitidError } from '../core/errors.js';
import { closePort, openPort, writePort } from './port.js';
import {
  Commands,
  LineSplitter,
  MAX_LINE_BYTES,
  PROTOCOL_VERSION,
  ProtocolErrors,
  formatErr,
  formatNotice,
  formatOk,
  identityFields,
  isRequestProblem,
  lcdFields,
  lineText,
  parseRequest,
  parseTimeArgument,
  statusFields,
  timeFields,
  type Fields,
  type Request,
} from './protocol.js';
import type { SerialTarget } from './types.js';

/** Options for {@link serveSerial}. */
export interface ServeSerialOptions {
  /** Line speed; default 115200. */
  baudRate?: number;
  /** Send the `* MITID-SERIAL ...` greeting when the port opens (§4.4); default true. */
  banner?: boolean;
  /** Called with one line per request and answer, for a log; never given secrets. */
  log?: (line: string) => void;
}

/** A running server. */
export interface SerialServer {
  readonly path: string;
  /** Requests answered so far (ERR answers included). */
  readonly answered: number;
  /** Requests read but not yet answered. */
  readonly waiting: number;
  /**
   * Resolves when the port has closed, by {@link close} or because the line went away (a USB
   * adapter unplugged, the pty pair stopped): a long-running server waits on it to exit.
   */
  readonly closed: Promise<void>;
  /** Resolves when every request read so far has been answered. */
  idle(): Promise<void>;
  /** Stops serving and closes the port (after the answer in progress). Idempotent. */
  close(): Promise<void>;
}

/**
 * Answers one request line for `target`: the pure part of the server, also usable over any
 * other byte stream. Returns the answer line without LF, or null for a blank line.
 */
export async function answerLine(target: SerialTarget, text: string): Promise<string | null> {
  const req = parseRequest(text);
  if (req === null) return null;
  if (isRequestProblem(req)) return formatErr(req.code, req.message, req.tag);
  try {
    return formatOk(await dispatch(target, req), req.tag);
  } catch (e) {
    if (e instanceof LineProblem) return formatErr(e.code, e.message, req.tag);
    // A MitidError's message is safe to show by contract; anything else might not be.
    if (isMitidError(e)) return formatErr(e.code, e.message, req.tag);
    return formatErr(ProtocolErrors.internal, 'the device failed to answer', req.tag);
  }
}

/** A request the protocol itself refuses (§5); its message is fixed text, safe to send. */
class LineProblem extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** Requests a server holds unanswered before it drops further ones (§3.1). */
export const MAX_WAITING_REQUESTS = 64;
const MAX_WAITING = MAX_WAITING_REQUESTS;

const PRESS_ARGS = 'PRESS takes no argument, or a host time: Unix ms or ISO 8601 with a zone';

function noArgs(req: Request): void {
  if (req.args.length > 0)
    throw new LineProblem(ProtocolErrors.badArgument, `${req.command} takes no arguments`);
}

async function dispatch(target: SerialTarget, req: Request): Promise<Fields> {
  switch (req.command) {
    case 'HELP':
      noArgs(req);
      return [
        ['proto', PROTOCOL_VERSION],
        ['commands', Commands.join(' ')],
        ['max', MAX_LINE_BYTES],
      ];
    case 'ID':
      noArgs(req);
      return identityFields(await target.identify());
    case 'PING':
      if (req.args.length > 1)
        throw new LineProblem(ProtocolErrors.badArgument, 'PING takes at most one word');
      return req.args[0] === undefined ? [] : [['echo', req.args[0]]];
    case 'PRESS': {
      if (req.args.length > 1) throw new LineProblem(ProtocolErrors.badArgument, PRESS_ARGS);
      let at: number | undefined;
      if (req.args[0] !== undefined) {
        const t = parseTimeArgument(req.args[0]);
        if (t === null) throw new LineProblem(ProtocolErrors.badArgument, PRESS_ARGS);
        at = t;
      }
      const r = await (at === undefined ? target.press() : target.press(at));
      await target.save?.();
      return lcdFields(r);
    }
    case 'READ':
      noArgs(req);
      return lcdFields(await target.read());
    case 'STATUS':
      noArgs(req);
      return statusFields(await target.status());
    case 'TIME': {
      if (req.args.length > 1)
        throw new LineProblem(ProtocolErrors.badArgument, 'TIME takes at most one time');
      const arg = req.args[0];
      if (arg !== undefined) {
        const ms = parseTimeArgument(arg);
        if (ms === null)
          throw new LineProblem(
            ProtocolErrors.badArgument,
            'TIME wants Unix ms or ISO 8601 with a zone',
          );
        await target.setClock(ms);
        await target.save?.();
      }
      const now = target.time ? await target.time() : (await target.status()).deviceTime;
      return timeFields(now);
    }
    default:
      throw new LineProblem(ProtocolErrors.unknownCommand, 'unknown command; try HELP');
  }
}

/**
 * Serves `target` on the serial port at `path` (protocol v1, docs/serial-protocol.md). Requests
 * are answered strictly one at a time in arrival order. Bad input (binary, over-long lines,
 * unknown commands) gets an ERR answer and the server keeps serving. Throws SerialError
 * 'not-found' / 'open-failed' when the port cannot be opened.
 */
export async function serveSerial(
  path: string,
  target: SerialTarget,
  options: ServeSerialOptions = {},
): Promise<SerialServer> {
  const port: SerialPort = await openPort(
    path,
    options.baudRate === undefined ? {} : { baudRate: options.baudRate },
  );
  const log = options.log;
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  let chain: Promise<void> = Promise.resolve();
  let answered = 0;
  let waiting = 0;
  let dropped = 0;
  let closed = false;

  const send = async (line: string): Promise<void> => {
    if (closed || !port.isOpen) return;
    try {
      await writePort(port, line + '\n');
    } catch (e) {
      log?.(`write failed: ${e instanceof Error ? e.message : 'unknown error'}`);
    }
  };

  const handle = async (text: string | null, overflow: number | null): Promise<void> => {
    let answer: string | null;
    if (overflow !== null) {
      answer = formatErr(ProtocolErrors.tooLong, `line exceeds ${MAX_LINE_BYTES} bytes`);
    } else if (text === null) {
      answer = formatErr(ProtocolErrors.badBytes, 'line has bytes outside printable ASCII');
    } else {
      answer = await answerLine(target, text);
    }
    if (answer === null) return;
    answered += 1;
    // The log names the request and the answer's status only: an OK answer carries the code.
    log?.(`${describeRequest(text, overflow)} -> ${summarise(answer)}`);
    await send(answer);
  };

  const enqueue = (job: () => Promise<void>): void => {
    waiting += 1;
    // handle() catches target failures itself; the catch keeps the chain alive whatever happens.
    chain = chain
      .then(job)
      .catch((e: unknown) =>
        log?.(`answer failed: ${e instanceof Error ? e.message : 'unknown error'}`),
      )
      .finally(() => {
        waiting -= 1;
      });
  };

  // The greeting goes first in the queue, so it never lands between a request and its answer.
  if (options.banner !== false) {
    enqueue(async () => {
      try {
        const id = await target.identify();
        await send(
          formatNotice(
            `MITID-SERIAL ${PROTOCOL_VERSION} kind=${id.kind} serial=${id.serial} ready`,
          ),
        );
      } catch (e) {
        log?.(`no banner: ${e instanceof Error ? e.message : 'unknown error'}`);
      }
    });
  }

  port.on('data', (chunk: Buffer) => {
    for (const ev of splitter.push(new Uint8Array(chunk))) {
      if (ev.type === 'line' && ev.bytes.every((b) => b === 0x20 || b === 0x09)) continue;
      // §3.1: a host that does not wait for answers cannot fill memory. Past the limit, lines
      // are dropped and the drop is reported once, in order, when the device catches up.
      if (waiting >= MAX_WAITING) {
        if (dropped++ === 0) {
          enqueue(async () => {
            const n = dropped;
            dropped = 0;
            answered += 1;
            log?.(`${n} requests dropped -> ERR busy`);
            await send(
              formatErr(ProtocolErrors.busy, `${n} requests dropped: wait for each answer`),
            );
          });
        }
        continue;
      }
      const text = ev.type === 'line' ? lineText(ev.bytes) : null;
      const overflow = ev.type === 'overflow' ? ev.dropped : null;
      enqueue(() => handle(text, overflow));
    }
  });
  port.on('error', (e: Error) => log?.(`port error: ${e.message}`));
  const closedPromise = new Promise<void>((resolve) => {
    port.once('close', () => {
      if (!closed) log?.('the serial line closed');
      closed = true;
      resolve();
    });
  });

  return {
    path,
    get answered() {
      return answered;
    },
    get waiting() {
      return waiting;
    },
    closed: closedPromise,
    idle: () => chain,
    async close() {
      if (closed) return;
      await chain;
      closed = true;
      port.removeAllListeners('data');
      await closePort(port);
    },
  };
}

/** A log-safe description of a request: the command word only, never its arguments. */
function describeRequest(text: string | null, overflow: number | null): string {
  if (overflow !== null) return `<${overflow} bytes dropped>`;
  if (text === null) return '<binary>';
  const req = parseRequest(text);
  if (req === null || isRequestProblem(req)) return '<bad line>';
  return `${req.tag ?? ''} ${req.command}`.trim();
}

/** `OK`, or `ERR <code>`, without the tag and without any field. */
function summarise(answer: string): string {
  const words = answer.split(' ');
  if (words[0]?.startsWith('#')) words.shift();
  return words[0] === 'ERR' ? `ERR ${words[1] ?? ''}`.trim() : 'OK';
}
