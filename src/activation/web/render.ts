/**
 * HTML templating for the activation pages: every interpolated value is escaped unless it is
 * already {@link SafeHtml} (built by this module), so a page cannot be made to carry markup from
 * input.
 */

/** A piece of HTML known to be safe: made only by {@link html}, {@link raw} or {@link join}. */
export class SafeHtml {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  /** The markup. */
  toString(): string {
    return this.#value;
  }
}

/** What a template accepts: text (escaped), numbers, safe HTML, lists of these; nothing for null. */
export type HtmlValue =
  string | number | SafeHtml | null | undefined | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
  '`': '&#96;',
};

/** Escapes text for an HTML element or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"'`]/g, (c) => ESCAPES[c] ?? c);
}

function render(v: HtmlValue): string {
  if (v === null || v === undefined || v === false) return '';
  if (v instanceof SafeHtml) return v.toString();
  if (Array.isArray(v)) return v.map((x: HtmlValue) => render(x)).join('');
  return escapeHtml(String(v));
}

/** The tagged template: `html\`<p>${text}</p>\`` escapes `text`. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? '';
  for (let i = 0; i < values.length; i++)
    out += render(values[i] as HtmlValue) + (strings[i + 1] ?? '');
  return new SafeHtml(out);
}

/** Marks trusted markup written in this module's callers as safe (never for input). */
export function raw(markup: string): SafeHtml {
  return new SafeHtml(markup);
}

/** Joins pieces with a separator (both escaped unless safe). */
export function join(items: readonly HtmlValue[], separator: HtmlValue = ''): SafeHtml {
  return new SafeHtml(items.map((x) => render(x)).join(render(separator)));
}

/**
 * JSON for a `<script type="application/json">` data block: `<`, `>`, `&` and the line
 * separators escaped, so the text cannot close the element.
 */
export function jsonData(value: unknown): SafeHtml {
  return new SafeHtml(
    JSON.stringify(value)
      .replace(/</g, '\\u003c')
      .replace(/>/g, '\\u003e')
      .replace(/&/g, '\\u0026')
      .replace(/\u2028/g, '\\u2028')
      .replace(/\u2029/g, '\\u2029'),
  );
}

/** The whole document around a page's content. */
export interface Layout {
  readonly lang: 'da' | 'en';
  readonly title: string;
  readonly csrf: string;
  readonly skipText: string;
  readonly siteName: string;
  /** The language switch link (href and label, in the other language). */
  readonly switchHref: string;
  readonly switchLabel: string;
  readonly switchLang: 'da' | 'en';
  /** Navigation links, shown in the header. */
  readonly nav: readonly { readonly href: string; readonly label: string; readonly id: string }[];
  readonly navLabel: string;
  readonly main: SafeHtml;
}

/** Renders the document: lang, title, skip link, header with navigation, main, the script. */
export function documentHtml(l: Layout): string {
  return `<!doctype html>${html`<html lang="${l.lang}">
    <head>
      <meta charset="utf-8" />
      <meta name="viewport" content="width=device-width, initial-scale=1" />
      <meta name="csrf-token" content="${l.csrf}" />
      <title>${l.title} – ${l.siteName}</title>
      <link rel="stylesheet" href="/static/style.css" />
      <script src="/static/app.js" defer></script>
    </head>
    <body>
      <a class="skip-link" href="#main">${l.skipText}</a>
      <header>
        <p class="site-name"><a href="/">${l.siteName}</a></p>
        <nav aria-label="${l.navLabel}">
          <ul>
            ${l.nav.map((n) => html`<li><a id="${n.id}" href="${n.href}">${n.label}</a></li>`)}
            <li>
              <a
                id="lang-switch"
                href="${l.switchHref}"
                hreflang="${l.switchLang}"
                lang="${l.switchLang}"
                >${l.switchLabel}</a
              >
            </li>
          </ul>
        </nav>
      </header>
      <main id="main" tabindex="-1">${l.main}</main>
    </body>
  </html>`}`;
}
