// XML out (string building with escaping) and XML in (small request documents, size-capped and
// validated: malformed input is MalformedXML, never an exception escaping to the server).
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { S3Error } from './errors.ts';

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

export function escapeXml(s: string): string {
  // Control characters other than tab/newline/CR are not representable in XML 1.0: keys may
  // contain them only if a client forced them past validation, so encode them as references.
  return s.replace(/[&<>"']/g, (c) => ESC[c]!).replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, (c) => `&#${c.charCodeAt(0)};`);
}

export type XmlValue = string | number | boolean | Date | undefined | null | XmlNode | XmlNode[];
export interface XmlNode { [tag: string]: XmlValue }

function render(tag: string, v: XmlValue): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((n) => render(tag, n)).join('');
  if (v instanceof Date) return `<${tag}>${v.toISOString()}</${tag}>`;
  if (typeof v === 'object') {
    let inner = '';
    for (const [k, child] of Object.entries(v)) inner += render(k, child);
    return `<${tag}>${inner}</${tag}>`;
  }
  return `<${tag}>${escapeXml(String(v))}</${tag}>`;
}

/** A full document: `<?xml…?><Root xmlns=…>…</Root>`. Array values repeat the tag. */
export function xmlDocument(root: string, body: XmlNode, namespace = true): string {
  let inner = '';
  for (const [k, v] of Object.entries(body)) inner += render(k, v);
  const ns = namespace ? ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"' : '';
  return `<?xml version="1.0" encoding="UTF-8"?>\n<${root}${ns}>${inner}</${root}>`;
}

const PREDEFINED: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };

/**
 * Decodes the five predefined entities and character references (`&#34;`, `&#x27;`) in one pass,
 * so `&amp;#34;` stays the text `&#34;`. Go's encoding/xml writes quotes as `&#34;` and `&#39;`.
 * Anything else (`&nbsp;`, `&#0;`, a surrogate) is not XML: the document is malformed.
 */
export function decodeXmlText(s: string): string {
  if (!s.includes('&')) return s;
  return s.replace(/&([^;&\s]{0,10});?/g, (whole, name: string) => {
    if (!whole.endsWith(';')) throw new Error(`unterminated reference ${whole}`);
    if (name in PREDEFINED) return PREDEFINED[name]!;
    const m = /^#(?:x([0-9a-fA-F]{1,6})|([0-9]{1,7}))$/.exec(name);
    const cp = m ? (m[1] !== undefined ? parseInt(m[1], 16) : Number(m[2])) : -1;
    // Control characters 1-31 are accepted: escapeXml writes them for keys that contain them.
    if (cp <= 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || cp === 0xfffe || cp === 0xffff) throw new Error(`invalid reference ${whole}`);
    return String.fromCodePoint(cp);
  });
}

/**
 * The one parser configuration for every XML document, request bodies and backend replies alike:
 * values stay strings ("0012" is a key, not a number), whitespace is kept, namespaces dropped,
 * references decoded by decodeXmlText, and the tags in `lists` are always arrays.
 */
export function xmlParser(lists: Iterable<string>): XMLParser {
  const arrays = new Set(lists);
  return new XMLParser({
    ignoreAttributes: true,
    removeNSPrefix: true,
    parseTagValue: false,
    trimValues: false,
    processEntities: false,
    htmlEntities: false,
    tagValueProcessor: (_name, value) => decodeXmlText(value),
    isArray: (name) => arrays.has(name),
  });
}

const parser = xmlParser(['Part', 'Object']);

/** Parses a request body document whose root must be `root`. */
export function parseXml(text: string, root: string): Record<string, unknown> {
  if (XMLValidator.validate(text) !== true) throw new S3Error('MalformedXML');
  let doc: Record<string, unknown>;
  try {
    doc = parser.parse(text) as Record<string, unknown>;
  } catch (cause) {
    throw new S3Error('MalformedXML', undefined, { cause });
  }
  const node = doc[root];
  if (node === undefined || node === null || typeof node !== 'object') throw new S3Error('MalformedXML');
  return node as Record<string, unknown>;
}
