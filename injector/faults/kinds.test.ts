// The kinds table is the one classification: it covers every kind of the model, and the fault
// reference (docs/faults.md) lists each kind in the table and sentence its classification says.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KINDS, PER_REQUEST_KINDS, RESOURCE_KINDS, runsIn } from './kinds.ts';
import { FAULT_KINDS } from './model.ts';

const DOC = readFileSync(join(import.meta.dirname, '../../docs/faults.md'), 'utf8');

function section(title: string): string {
  const start = DOC.indexOf(`#### ${title}`);
  assert.ok(start >= 0, `docs/faults.md has a "#### ${title}" section`);
  const end = DOC.indexOf('\n#### ', start + 1);
  return DOC.slice(start, end < 0 ? undefined : end);
}

const tableKinds = (text: string) => [...text.matchAll(/^\| `(\w+)` \|/gm)].map((m) => m[1]!).sort();
const listed = (sentence: RegExp) => {
  const m = sentence.exec(DOC);
  assert.ok(m, `docs/faults.md has ${sentence}`);
  return [...m[1]!.matchAll(/`(\w+)`/g)].map((x) => x[1]!).sort();
};

test('every kind of the fault model has exactly one row in the kinds table', () => {
  assert.deepEqual(Object.keys(KINDS).sort(), [...FAULT_KINDS].sort());
});

test('docs/faults.md lists each kind where the table classifies it', () => {
  const byAction = (a: string) => FAULT_KINDS.filter((k) => KINDS[k].action === a).sort();
  assert.deepEqual(tableKinds(section('S3 / HTTP faults')), FAULT_KINDS.filter((k) => !RESOURCE_KINDS.has(k)).sort());
  assert.deepEqual(tableKinds(section('Resource faults (sidecar only)')), [...RESOURCE_KINDS].sort());
  // reset is terminal before headers and a body fault mid-body; the sentences say so.
  assert.deepEqual(listed(/Terminal faults \(([^)]*)\)/), byAction('terminal'));
  assert.deepEqual(listed(/Body faults \(([^)]*)\)/), [...byAction('body'), 'reset'].sort());
  for (const k of FAULT_KINDS.filter((x) => !runsIn(x, 'sidecar'))) assert.match(DOC, new RegExp(`\\| \`${k}\` \\|[^\\n]*Gateway only`), k);
  assert.ok([...PER_REQUEST_KINDS].every((k) => runsIn(k, 'gateway') && runsIn(k, 'sidecar')));
});
