// Reads pytest's JUnit XML (xunit1: each <testcase> names its file) into one outcome per test id,
// `file.py::Class::test` as pytest spells node ids.
import { XMLParser } from 'fast-xml-parser';
import { decodeXmlText } from '../../proxy/s3/xml.ts';

export interface CaseResult {
  id: string;
  outcome: 'passed' | 'failed' | 'skipped';
  /** The failure's or skip's message (first line of the assertion or error). */
  message: string;
  seconds: number;
}

interface RawCase {
  '@_classname'?: string;
  '@_file'?: string;
  '@_name': string;
  '@_time'?: string;
  failure?: unknown;
  error?: unknown;
  skipped?: unknown;
}

function messageOf(v: unknown): string {
  const first = Array.isArray(v) ? v[0] : v;
  if (first && typeof first === 'object') {
    const o = first as Record<string, unknown>;
    return String(o['@_message'] ?? o['#text'] ?? '').split('\n')[0]!.slice(0, 300);
  }
  return String(first ?? '').split('\n')[0]!.slice(0, 300);
}

export function parseJunit(xml: string): Map<string, CaseResult> {
  const doc = new XMLParser({
    ignoreAttributes: false, processEntities: false, htmlEntities: false,
    attributeValueProcessor: (_name, value) => decodeXmlText(value), tagValueProcessor: (_name, value) => decodeXmlText(value),
    isArray: (name) => name === 'testsuite' || name === 'testcase' }).parse(xml) as {
    testsuites?: { testsuite?: { testcase?: RawCase[] }[] };
  };
  const out = new Map<string, CaseResult>();
  for (const suite of doc.testsuites?.testsuite ?? []) {
    for (const c of suite.testcase ?? []) {
      const cls = (c['@_classname'] ?? '').split('.').pop() ?? '';
      const file = c['@_file'] ?? `${(c['@_classname'] ?? '').split('.').slice(0, -1).join('/')}.py`;
      // Ids are relative to the package's tests/ folder (the rootdir is the package).
      const id = `${file.replace(/^tests\//, '')}::${cls}::${c['@_name']}`;
      const bad = c.failure ?? c.error;
      const outcome = bad !== undefined ? 'failed' : c.skipped !== undefined ? 'skipped' : 'passed';
      out.set(id, { id, outcome, message: outcome === 'passed' ? '' : messageOf(bad ?? c.skipped), seconds: Number(c['@_time'] ?? 0) });
    }
  }
  return out;
}
