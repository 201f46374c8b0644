/** A small browser for the activation pages: a cookie jar, forms posted with their CSRF token, redirects followed by hand. */

/** One page answer. */
export interface PageAnswer {
  readonly status: number;
  readonly html: string;
  readonly headers: Headers;
  readonly location: string | null;
}

/** A browser session against one service (its own cookies). */
export class PageClient {
  readonly cookies = new Map<string, string>();
  constructor(
    readonly base: string,
    readonly acceptLanguage = 'da',
  ) {}

  #cookieHeader(path: string): string {
    const out: string[] = [];
    for (const [k, v] of this.cookies) {
      // The admin cookie is scoped to /admin, as a browser would.
      if (k === 'mitid_admin' && !path.startsWith('/admin')) continue;
      out.push(`${k}=${v}`);
    }
    return out.join('; ');
  }

  #keep(res: Response): void {
    for (const line of res.headers.getSetCookie()) {
      const [pair = ''] = line.split(';');
      const i = pair.indexOf('=');
      const name = pair.slice(0, i).trim();
      const value = pair.slice(i + 1).trim();
      if (value === '' || /expires=Thu, 01 Jan 1970/i.test(line)) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
  }

  /** One request, no redirect followed. */
  async request(
    method: 'GET' | 'POST',
    path: string,
    form?: Record<string, string | string[]>,
    headers: Record<string, string> = {},
  ): Promise<PageAnswer> {
    const h: Record<string, string> = {
      'accept-language': this.acceptLanguage,
      ...headers,
    };
    const cookie = this.#cookieHeader(path);
    if (cookie !== '') h.cookie = cookie;
    let body: string | undefined;
    if (form !== undefined) {
      const p = new URLSearchParams();
      for (const [k, v] of Object.entries(form))
        for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
      body = p.toString();
      h['content-type'] = 'application/x-www-form-urlencoded';
    }
    const res = await fetch(`${this.base}${path}`, {
      method,
      headers: h,
      redirect: 'manual',
      ...(body === undefined ? {} : { body }),
    });
    this.#keep(res);
    return {
      status: res.status,
      html: await res.text(),
      headers: res.headers,
      location: res.headers.get('location'),
    };
  }

  /** GET, following redirects within the site. */
  async get(path: string): Promise<PageAnswer & { path: string }> {
    let p = path;
    for (let i = 0; i < 10; i++) {
      const r = await this.request('GET', p);
      if (r.status >= 300 && r.status < 400 && r.location !== null) {
        p = r.location;
        continue;
      }
      return { ...r, path: p };
    }
    throw new Error(`too many redirects from ${path}`);
  }

  /** The CSRF token of a page. */
  static csrf(html: string): string {
    const m = /<meta name="csrf-token" content="([^"]+)"/.exec(html);
    if (m === null) throw new Error('no CSRF token on the page');
    return m[1]!;
  }

  /**
   * Submits a form as a browser would: the CSRF token from `page`, then follows the redirect.
   * Answers the final page (or the refusal, when not a redirect).
   */
  async submit(
    page: { html: string },
    action: string,
    form: Record<string, string | string[]>,
  ): Promise<PageAnswer & { path: string }> {
    const r = await this.request('POST', action, { _csrf: PageClient.csrf(page.html), ...form });
    if (r.status === 303 && r.location !== null) return this.get(r.location);
    return { ...r, path: action };
  }
}

/** The text of the element with `id` (tags removed, entities of the escaper decoded). */
export function textOfId(html: string, id: string): string | undefined {
  // The element's own tag, up to its closing tag (the pages do not nest an element in its like).
  const m = new RegExp(`<([a-z0-9]+)\\s[^>]*id="${id}"[^>]*>([\\s\\S]*?)</\\1>`).exec(html);
  return m === null
    ? undefined
    : decode(m[2]!.replace(/<[^>]+>/g, ''))
        .replace(/\s+/g, ' ')
        .trim();
}

/** Decodes the entities the escaper writes. */
export function decode(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&#96;/g, '`')
    .replace(/&amp;/g, '&');
}
