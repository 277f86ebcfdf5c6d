import { test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { allCrds, openApiOf } from './crd.ts';
import { stale } from './generate.ts';
import { BackendBucketResourceSpec } from './backendbucket.ts';
import { VirtualBucketResourceSpec } from './virtualbucket.ts';
import { FaultExperimentSpec } from './faultexperiment.ts';
import { KNOWN_FORMATS, type Schema } from './structural.ts';

const FORBIDDEN = ['$schema', '$ref', '$defs', 'definitions', 'anyOf', 'oneOf', 'allOf', 'propertyNames', 'uniqueItems', 'const', 'patternProperties'];

function walk(s: Schema, path: string, visit: (s: Schema, path: string) => void): void {
  visit(s, path);
  for (const [k, v] of Object.entries((s.properties as Record<string, Schema>) ?? {})) walk(v, `${path}.${k}`, visit);
  if (s.items) walk(s.items as Schema, `${path}[]`, visit);
  if (typeof s.additionalProperties === 'object') walk(s.additionalProperties as Schema, `${path}{}`, visit);
}

test('the committed CRD YAML matches the schemas (run `make crds` after changing crds/*.ts)', () => {
  assert.deepEqual(stale(), []);
});

test('every generated schema is structural: each node typed, no forbidden keywords, every spec field described', () => {
  for (const crd of allCrds()) {
    const version = (crd.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] }).versions[0]!;
    walk(version.schema.openAPIV3Schema, (crd.metadata as { name: string }).name, (s, path) => {
      for (const k of FORBIDDEN) assert.ok(!(k in s), `${path} has ${k}`);
      assert.ok(!(s.additionalProperties === false), `${path}: additionalProperties false`);
      assert.ok(s.type || s['x-kubernetes-int-or-string'] || s['x-kubernetes-preserve-unknown-fields'], `${path} has no type`);
      if (/\.spec\.[^[{]*$/.test(path)) assert.ok(typeof s.description === 'string' && s.description.length > 0, `${path} has no description`);
    });
  }
});

test('every format in a generated schema is one the API server knows (no "unrecognized format" warning on apply)', () => {
  for (const crd of allCrds()) {
    const version = (crd.spec as { versions: { schema: { openAPIV3Schema: Schema } }[] }).versions[0]!;
    walk(version.schema.openAPIV3Schema, (crd.metadata as { name: string }).name, (s, path) => {
      if (s.format !== undefined) assert.ok(KNOWN_FORMATS.has(s.format as string), `${path} has format ${String(s.format)}`);
    });
  }
  // The disk fault's path keeps its check as a pattern.
  const fe = JSON.stringify(openApiOf(FaultExperimentSpec));
  assert.ok(!fe.includes('starts_with'));
  assert.ok(fe.includes('"pattern":"^\\\\/.*"'), 'the disk path pattern is kept');
});

test('sizes and durations become int-or-string with a CEL rule that explains the format', () => {
  const spec = openApiOf(BackendBucketResourceSpec) as { properties: Record<string, Schema> };
  const d = spec.properties.probeInterval!;
  assert.equal(d['x-kubernetes-int-or-string'], true);
  assert.match(JSON.stringify(d['x-kubernetes-validations']), /expected a duration like 500ms, 30s, 5m or 24h/);
  assert.match(JSON.stringify(spec.properties.maxSize!['x-kubernetes-validations']), /expected a size like 500Mi/);
});

test('the fault union is hoisted into one object with a CEL rule per kind', () => {
  const spec = openApiOf(FaultExperimentSpec) as { properties: Record<string, Schema> };
  const item = (spec.properties.faults!.items as Schema) as { properties: Record<string, Schema>; 'x-kubernetes-validations': { rule: string; message: string }[] };
  assert.deepEqual(item.properties.kind!.enum?.toString().split(',').includes('latency'), true);
  const latency = item['x-kubernetes-validations'].find((r) => r.rule.startsWith("self.kind != 'latency'"))!;
  assert.match(latency.rule, /has\(self\.ms\)/);
  assert.match(latency.rule, /!has\(self\.code\)/);
  assert.match(latency.message, /requires ms/);
});

test('immutable fields and cross-field rules are in the schema', () => {
  const bb = openApiOf(BackendBucketResourceSpec) as { properties: Record<string, Schema> };
  assert.match(JSON.stringify(bb.properties.bucket), /self == oldSelf/);
  const vb = openApiOf(VirtualBucketResourceSpec);
  const rules = JSON.stringify(vb['x-kubernetes-validations']);
  assert.match(rules, /list backends or give a backendSelector/);
  assert.match(rules, /more than one replica needs a postgres index/);
});

test('the zod schemas accept a good resource and refuse bad ones with the field named', () => {
  const ok = BackendBucketResourceSpec.parse({ endpoint: 'http://127.0.0.1:9000', bucket: 'data-a', credentialsSecret: { name: 's' }, maxSize: '10Gi' });
  assert.equal(ok.maxSize, 10 * 2 ** 30);
  assert.equal(ok.probeInterval, 60_000);
  assert.equal(ok.credentialsSecret.accessKeyIdKey, 'accessKeyId');
  const bad = (s: z.ZodType, v: unknown, re: RegExp) => {
    const r = s.safeParse(v);
    assert.ok(!r.success, `accepted ${JSON.stringify(v)}`);
    assert.match(r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('\n'), re);
  };
  bad(BackendBucketResourceSpec, { endpoint: 'http://x', bucket: 'data-a', credentialsSecret: { name: 's' }, weight: -1 }, /weight: Too small/);
  bad(VirtualBucketResourceSpec, { backends: ['a'], strategy: 'least-space' }, /strategy: Invalid option/);
  bad(VirtualBucketResourceSpec, { backends: ['a'], redirectExpiry: '5 parsecs' }, /redirectExpiry: expected a duration/);
});
