/** A small, safe XML reader for seed files: no DTDs, no entity expansion, local names only. */
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { fromUtf8 } from '../../core/bytes.js';
import { fail } from './errors.js';

/**
 * One element, by local name: namespace prefixes are dropped from element and attribute names,
 * because real PSKC files differ in prefixes (none, `pskc:`, a default namespace, odd names) and
 * a reader must go by the element's meaning, not its spelling.
 */
export interface XmlElement {
  readonly name: string;
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own character data (text and CDATA, entities decoded), untrimmed. */
  readonly text: string;
}

/** Limits on what {@link parseXml} accepts. */
export interface XmlLimits {
  /** Largest document in bytes (default 8 MiB). */
  maxBytes?: number;
  /** Deepest element nesting (default 64). */
  maxDepth?: number;
}

/** Default size limit of a seed file: far above any real token batch, far below harm. */
export const DEFAULT_MAX_BYTES = 8 * 1024 * 1024;

// The parser is told to keep entities as written: we decode the five predefined ones and
// character references ourselves, and anything else is an error, so no expansion can happen.
const parser = new XMLParser({
  preserveOrder: true,
  removeNSPrefix: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  allowBooleanAttributes: false,
  processEntities: false,
  htmlEntities: false,
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  commentPropName: false,
  cdataPropName: '#cdata',
  maxNestedTags: 64,
});

/** Decodes bytes or a string to text: UTF-8 only, BOM dropped, size-limited. */
export function decodeText(input: string | Uint8Array, maxBytes = DEFAULT_MAX_BYTES): string {
  let text: string;
  if (typeof input === 'string') {
    // Cheap bound first (a UTF-16 unit is at least one UTF-8 byte); count bytes only when close.
    const tooLarge =
      input.length > maxBytes ||
      (input.length * 3 > maxBytes && Buffer.byteLength(input) > maxBytes);
    if (tooLarge) fail('too-large', `file is larger than the limit of ${maxBytes} bytes`);
    text = input;
  } else if (input instanceof Uint8Array) {
    if (input.length > maxBytes)
      fail('too-large', `file is larger than the limit of ${maxBytes} bytes`);
    if (
      input.length >= 2 &&
      ((input[0] === 0xff && input[1] === 0xfe) || (input[0] === 0xfe && input[1] === 0xff))
    ) {
      fail('unsupported', 'file is UTF-16; only UTF-8 is supported');
    }
    try {
      text = fromUtf8(input);
    } catch (e) {
      fail('malformed', 'file is not valid UTF-8', e);
    }
  } else {
    throw new TypeError('seed file must be a string or a Uint8Array');
  }
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
}

const PREDEFINED: Readonly<Record<string, string>> = {
  lt: '<',
  gt: '>',
  amp: '&',
  quot: '"',
  apos: "'",
};

/** Decodes the predefined entities and character references; any other entity is malformed. */
function decodeEntities(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,12});?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) fail('malformed', 'XML has a bare "&"');
    const known = PREDEFINED[name];
    if (known !== undefined) return known;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    if (m) {
      const cp = m[1] !== undefined ? parseInt(m[1], 16) : parseInt(m[2] ?? '', 10);
      if (cp === 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
        fail('malformed', 'XML has an invalid character reference');
      }
      return String.fromCodePoint(cp);
    }
    return fail(
      'malformed',
      'XML uses an entity that is not predefined (entities are not expanded)',
    );
  });
}

type Ordered = Record<string, unknown>;

function convert(node: Ordered, depth: number, maxDepth: number): XmlElement | undefined {
  const keys = Object.keys(node).filter((k) => k !== ':@');
  const name = keys[0];
  if (name === undefined || name === '#text' || name === '#cdata') return undefined;
  if (depth > maxDepth) fail('malformed', `XML is nested deeper than ${maxDepth} elements`);
  const rawAttrs = (node[':@'] ?? {}) as Record<string, unknown>;
  const attrs: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(rawAttrs)) {
    if (k === 'xmlns' || k.startsWith('xmlns:')) continue;
    attrs[k] = decodeEntities(String(v));
  }
  const children: XmlElement[] = [];
  let text = '';
  const list = node[name];
  if (Array.isArray(list)) {
    for (const item of list as Ordered[]) {
      if ('#text' in item) text += decodeEntities(String(item['#text']));
      else if ('#cdata' in item) {
        const parts = item['#cdata'];
        if (Array.isArray(parts))
          for (const p of parts as Ordered[]) text += String(p['#text'] ?? '');
      } else {
        const child = convert(item, depth + 1, maxDepth);
        if (child) children.push(child);
      }
    }
  }
  return { name, attrs, children, text };
}

/**
 * Parses an XML document into a tree of {@link XmlElement}s, after refusing anything with a
 * DOCTYPE or ENTITY declaration (billion laughs, external entities) and checking that it is
 * well-formed with exactly one root element. Errors are SeedFileError `dtd-forbidden`,
 * `malformed`, `too-large` or `empty`.
 */
export function parseXml(input: string | Uint8Array, limits: XmlLimits = {}): XmlElement {
  const maxBytes = limits.maxBytes ?? DEFAULT_MAX_BYTES;
  const text = decodeText(input, maxBytes);
  if (text.trim() === '') fail('empty', 'file is empty');
  // Refused up front, wherever it appears: no seed file needs a DTD, and a parser that never
  // sees one cannot be made to expand or fetch anything.
  if (/<!DOCTYPE/i.test(text) || /<!ENTITY/i.test(text) || /<!ELEMENT|<!ATTLIST/i.test(text)) {
    fail('dtd-forbidden', 'XML has a DOCTYPE or ENTITY declaration; these are refused');
  }
  const declared = /^\s*<\?xml[^?]*encoding\s*=\s*["']([^"']+)["']/i.exec(text);
  if (declared && !/^utf-?8$/i.test(declared[1] ?? '')) {
    fail(
      'unsupported',
      `XML encoding ${JSON.stringify(declared[1]).slice(0, 40)} is not supported; use UTF-8`,
    );
  }
  const valid = XMLValidator.validate(text, { allowBooleanAttributes: false });
  if (valid !== true) {
    fail('malformed', `not well-formed XML (line ${valid.err.line}: ${valid.err.code})`);
  }
  let ordered: Ordered[];
  try {
    ordered = parser.parse(text) as Ordered[];
  } catch (e) {
    return fail('malformed', 'not well-formed XML', e);
  }
  const roots = ordered
    .map((n) => convert(n, 1, limits.maxDepth ?? 64))
    .filter((e): e is XmlElement => e !== undefined);
  if (roots.length !== 1)
    fail('malformed', `XML must have exactly one root element, found ${roots.length}`);
  const trailing = ordered.some((n) => '#text' in n && String(n['#text']).trim() !== '');
  if (trailing) fail('malformed', 'XML has text outside the root element');
  return roots[0] as XmlElement;
}

/** The first child named `name` (local name), or undefined. */
export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

/** Every child named `name`. */
export function childrenNamed(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Follows a path of local names through first children. */
export function path(el: XmlElement | undefined, ...names: string[]): XmlElement | undefined {
  let cur = el;
  for (const n of names) cur = child(cur, n);
  return cur;
}

/** An attribute by local name, trying each spelling in turn (vendors differ in case). */
export function attr(el: XmlElement | undefined, ...names: string[]): string | undefined {
  if (!el) return undefined;
  for (const n of names) {
    const v = el.attrs[n];
    if (v !== undefined) return v;
  }
  return undefined;
}

const ESCAPES: Readonly<Record<string, string>> = {
  '<': '&lt;',
  '>': '&gt;',
  '&': '&amp;',
  '"': '&quot;',
  "'": '&apos;',
  // XML 1.0 §2.11 and §3.3.3: readers turn CR LF into LF, and tabs and newlines in attributes
  // into spaces; character references survive both.
  '\t': '&#9;',
  '\n': '&#10;',
  '\r': '&#13;',
};

/** Escapes text for an XML element or a double-quoted attribute, whitespace included. */
export function escapeXml(s: string): string {
  return s.replace(/[<>&"'\t\n\r]/g, (c) => ESCAPES[c] ?? c);
}
