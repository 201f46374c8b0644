/** The page helpers alone: escaping, JSON data blocks, the choice of language, CSRF tokens, and both languages having every text. */
import Fastify from 'fastify';
import cookie from '@fastify/cookie';
import { describe, expect, it } from 'vitest';
import { errorText, pickLang, text, textOf } from '../../src/activation/web/i18n.js';
import { escapeHtml, html, join, jsonData, raw } from '../../src/activation/web/render.js';
import { PageSessions, SECURITY_HEADERS } from '../../src/activation/web/security.js';

describe('render', () => {
  it('escapes every interpolated value, in text and attributes, and lists', () => {
    const evil = `<img src=x onerror="alert('1')">&\``;
    const out = html`<p title="${evil}">${evil}${[evil, 1, null, undefined, false]}</p>`.toString();
    expect(out).not.toContain('<img');
    expect(out).not.toContain('"alert');
    expect(out).toBe(`<p title="${escapeHtml(evil)}">${escapeHtml(evil)}${escapeHtml(evil)}1</p>`);
    expect(escapeHtml(`<>&"'\``)).toBe('&lt;&gt;&amp;&quot;&#39;&#96;');
    // Safe pieces nest without double escaping.
    expect(html`<div>${html`<b>${'<i>'}</b>`}</div>`.toString()).toBe(
      '<div><b>&lt;i&gt;</b></div>',
    );
    expect(join(['<a>', raw('<br>')], ', ').toString()).toBe('&lt;a&gt;, <br>');
  });

  it('JSON data blocks cannot close their element', () => {
    const out = jsonData({ x: '</script><script>alert(1)</script>', y: '\u2028&' }).toString();
    expect(out).not.toContain('</script');
    expect(out).not.toContain('<');
    expect(JSON.parse(out)).toEqual({ x: '</script><script>alert(1)</script>', y: '\u2028&' });
  });
});

describe('i18n', () => {
  const req = (query: Record<string, string>, accept?: string) =>
    ({ query, headers: accept === undefined ? {} : { 'accept-language': accept } }) as never;

  it('chooses ?lang=, then the cookie, then Accept-Language by weight, then Danish', () => {
    expect(pickLang(req({ lang: 'en' }, 'da'), 'da')).toBe('en');
    expect(pickLang(req({}, 'da'), 'en')).toBe('en');
    expect(pickLang(req({}, 'en-GB,en;q=0.9'), undefined)).toBe('en');
    expect(pickLang(req({}, 'da;q=0.5, en;q=0.8'), undefined)).toBe('en');
    expect(pickLang(req({}, 'fr-FR, nb;q=0.7, en;q=0.5'), undefined)).toBe('da');
    expect(pickLang(req({}, 'fr'), undefined)).toBe('da');
    expect(pickLang(req({ lang: 'xx' }), 'yy')).toBe('da');
  });

  it('has every text in both languages, and the refusals users meet in Danish with the administrators named', () => {
    expect(text('da', 'startActivation')).toBe('Start aktivering');
    expect(text('en', 'startActivation')).toBe('Start activation');
    expect(textOf('en', 'kind_audio-reader')).toBe('MitID audio code reader');
    expect(textOf('en', 'no-such-key')).toBe('no-such-key');
    const en =
      'This activation link has expired. Contact your user administrator, who can send you a new one: Ulla <ulla@x.example>.';
    expect(errorText('en', 'link-expired', en)).toBe(en);
    expect(
      errorText('da', 'link-expired', en, {
        contacts: [{ name: 'Ulla', email: 'ulla@x.example' }],
      }),
    ).toContain('Ulla <ulla@x.example>');
    expect(
      errorText(
        'da',
        'activation-code-blocked',
        'The activation code is blocked or no longer valid. Ask your user administrator for a new one: Ulla <ulla@x.example>.',
      ),
    ).toBe(
      'Aktiveringskoden er spærret eller ikke længere gyldig. Bed din brugeradministrator om en ny: Ulla <ulla@x.example>.',
    );
    expect(errorText('da', 'activation-code-wrong', 'x', { triesLeft: 1 })).toBe(
      'Aktiveringskoden er forkert. 1 forsøg tilbage.',
    );
    expect(errorText('da', 'something-new', 'As the flow said.')).toBe('As the flow said.');
  });
});

describe('page sessions and CSRF', () => {
  it('tokens are tied to the session, compared whole, and a new session gets a new cookie', async () => {
    const sessions = new PageSessions();
    const app = Fastify();
    await app.register(cookie);
    app.get('/s', (req, reply) => {
      const s = sessions.get(req, reply, true);
      return { id: s.id, csrf: sessions.csrfToken(s.id) };
    });
    const first = await app.inject({ url: '/s' });
    const set = first.headers['set-cookie'];
    expect(String(set)).toMatch(
      /mitid_sid=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; Secure; SameSite=Strict/,
    );
    const { id, csrf } = first.json() as { id: string; csrf: string };
    const again = await app.inject({ url: '/s', cookies: { mitid_sid: id } });
    expect(again.json()).toEqual({ id, csrf });
    expect(again.headers['set-cookie']).toBeUndefined();
    expect(sessions.checkCsrf(id, csrf)).toBe(true);
    expect(sessions.checkCsrf(id, csrf.slice(0, -1))).toBe(false);
    expect(sessions.checkCsrf(id, `${csrf}x`)).toBe(false);
    expect(sessions.checkCsrf(id, undefined)).toBe(false);
    expect(sessions.checkCsrf(id, ['x'])).toBe(false);
    // A cookie the server never issued gets a fresh session.
    const forged = await app.inject({ url: '/s', cookies: { mitid_sid: 'A'.repeat(43) } });
    expect((forged.json() as { id: string }).id).not.toBe('A'.repeat(43));
    expect(sessions.checkCsrf('A'.repeat(43), csrf)).toBe(false);
    // Another server's tokens (another secret) do not pass here.
    expect(new PageSessions().checkCsrf(id, csrf)).toBe(false);
    await app.close();
  });

  it('the security headers are the documented set', () => {
    expect(SECURITY_HEADERS['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(SECURITY_HEADERS['content-security-policy']).toContain("script-src 'self'");
    expect(SECURITY_HEADERS['referrer-policy']).toBe('no-referrer');
  });
});
