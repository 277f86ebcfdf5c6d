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

const parser = new XMLParser({
  ignoreAttributes: true,
  removeNSPrefix: true,
  parseTagValue: false,
  trimValues: false,
  processEntities: true,
  isArray: (name) => name === 'Part' || name === 'Object',
});

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
