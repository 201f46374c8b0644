/**
 * The developer page with pictures of the emulated code displays and audio code readers in one
 * directory: each device as it looks now, its current code in text, and a button to press. It is
 * added to the service's web pages by `mitid-sim serve` (the service itself never imports devices).
 */
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { registerAudioReader } from '../../devices/audio-reader/register.js';
import { renderSvg } from '../../devices/code-display/render.js';
import { deviceKindOf, openOtpDevice, type OtpDevice } from '../../devices/factory.js';
import { PageContext, errorBox, formValue, type WebSettings } from '../activation/web/context.js';
import type { PageExtension } from '../activation/web/extensions.js';
import { html } from '../activation/web/render.js';

const TEXTS = {
  da: {
    title: 'Emulerede enheder',
    intro:
      'Kodevisere og kodeoplæsere i mappen herunder, som de ser ud nu. Tryk på knappen for at få en kode.',
    dir: 'Mappe',
    none: 'Ingen kodevisere eller kodeoplæsere i mappen. Lav en med: mitid-sim device create code-display --serial SERIENUMMER --out MAPPE/fil.json',
    press: 'Tryk på knappen på',
    code: 'Kode',
    blank: 'Skærmen er slukket',
    alt: 'viser',
    altBlank: 'med slukket skærm',
    kind_code: 'Kodeviser',
    kind_audio: 'Kodeoplæser',
    bad: 'Enheden findes ikke i mappen.',
  },
  en: {
    title: 'Emulated devices',
    intro:
      'Code displays and audio code readers in the directory below, as they look now. Press the button for a code.',
    dir: 'Directory',
    none: 'No code displays or audio code readers in the directory. Make one with: mitid-sim device create code-display --serial SERIAL --out DIR/file.json',
    press: 'Press the button on',
    code: 'Code',
    blank: 'The screen is off',
    alt: 'showing',
    altBlank: 'with its screen off',
    kind_code: 'Code display',
    kind_audio: 'Audio code reader',
    bad: 'No such device in the directory.',
  },
} as const;

const FILE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\.json$/;

interface Shown {
  readonly file: string;
  readonly kind: 'code-display' | 'audio-reader';
  readonly serial: string;
  readonly code: string | null;
  readonly svg: string;
}

async function deviceFiles(dir: string): Promise<string[]> {
  try {
    const names = await readdir(dir);
    const out: string[] = [];
    for (const n of names.filter((x) => FILE.test(x)).sort()) {
      const kind = await deviceKindOf(join(dir, n)).catch(() => undefined);
      if (kind === 'code-display' || kind === 'audio-reader') out.push(n);
    }
    return out;
  } catch {
    return [];
  }
}

async function withDevice<T>(path: string, fn: (d: OtpDevice) => Promise<T>): Promise<T> {
  const d = await openOtpDevice(path);
  try {
    return await fn(d);
  } finally {
    await d.close();
  }
}

/** The devices page over `dir`: GET /dev/devices, POST /dev/devices/press (field `file`). */
export function devicePages(dir: string): PageExtension {
  registerAudioReader();
  return (web: FastifyInstance, settings: WebSettings) => {
    const ctx = (req: FastifyRequest, reply: FastifyReply) => new PageContext(req, reply, settings);

    const page = async (c: PageContext, status = 200, error?: string): Promise<FastifyReply> => {
      const t = TEXTS[c.lang];
      const shown: Shown[] = [];
      for (const file of await deviceFiles(dir)) {
        try {
          shown.push(
            await withDevice(join(dir, file), async (d) => {
              const frame = d.lcd();
              const st = d.status();
              return {
                file,
                kind: d.kind,
                serial: d.serial,
                code: frame.on ? frame.code : null,
                svg: renderSvg(frame, st),
              };
            }),
          );
        } catch {
          // A file another program holds or broke: left out this time.
        }
      }
      return c.page(
        status,
        t.title,
        html`<h1>${t.title}</h1>
          <p>${t.intro}</p>
          <p>${t.dir}: <code id="devices-dir">${dir}</code></p>
          ${errorBox(c, error)}
          ${
            shown.length === 0
              ? html`<p id="no-devices">${t.none}</p>`
              : html`<ul id="devices" class="list">
                  ${shown.map((s) => {
                    const name = `${s.kind === 'code-display' ? t.kind_code : t.kind_audio} ${s.serial}`;
                    const alt =
                      s.code === null ? `${name} ${t.altBlank}` : `${name} ${t.alt} ${s.code}`;
                    return html`<li data-serial="${s.serial}" data-kind="${s.kind}">
                      <h2>${name}</h2>
                      <img
                        src="data:image/svg+xml;base64,${Buffer.from(s.svg).toString('base64')}"
                        alt="${alt}"
                      />
                      <p>
                        ${t.code}:
                        <strong class="code device-code">${s.code ?? t.blank}</strong>
                      </p>
                      <form method="post" action="/dev/devices/press">
                        ${c.csrfField()}
                        <input type="hidden" name="file" value="${s.file}" />
                        <button type="submit" aria-label="${t.press} ${name}">${t.press}</button>
                      </form>
                    </li>`;
                  })}
                </ul>`
          }`,
      );
    };

    web.get('/dev/devices', async (req, reply) => page(ctx(req, reply)));

    web.post('/dev/devices/press', async (req, reply) => {
      const c = ctx(req, reply);
      const file = formValue(req.body, 'file');
      if (!FILE.test(file) || !(await deviceFiles(dir)).includes(file))
        return page(c, 404, TEXTS[c.lang].bad);
      await withDevice(join(dir, file), (d) => d.press());
      return c.see('/dev/devices');
    });
  };
}
