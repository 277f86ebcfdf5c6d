// zod's JSON Schema → a *structural* OpenAPI schema the API server accepts (apiextensions v1):
// every node typed, no junctor carrying types, no keywords the API server forbids. What cannot
// be said structurally becomes a CEL rule with a message a person understands.
export type Schema = { [k: string]: unknown };

const DROP = ['$schema', '$id', 'id', 'propertyNames', 'patternProperties', 'examples', 'readOnly', 'writeOnly',
  'unevaluatedProperties', 'if', 'then', 'else', 'dependencies', 'prefixItems', 'additionalItems', 'const'];
const SAFE_INT = 9007199254740991;
/**
 * The formats the API server knows (apiextensions-apiserver's supported list). Any other
 * (zod writes e.g. `starts_with` beside the pattern that really checks it) makes every
 * `kubectl apply` of the CRD print `Warning: unrecognized format`, so it is dropped.
 */
export const KNOWN_FORMATS = new Set(['bsonobjectid', 'uri', 'email', 'hostname', 'ipv4', 'ipv6', 'cidr', 'mac', 'uuid', 'uuid3', 'uuid4', 'uuid5',
  'isbn', 'isbn10', 'isbn13', 'creditcard', 'ssn', 'hexcolor', 'rgbcolor', 'byte', 'password', 'date', 'duration', 'datetime', 'date-time',
  'int32', 'int64', 'float', 'double']);
const MAX_INT_OR_STRING_LENGTH = 64;

const isObj = (v: unknown): v is Schema => typeof v === 'object' && v !== null && !Array.isArray(v);
const rulesOf = (s: Schema) => (s['x-kubernetes-validations'] as { rule: string; message: string }[] | undefined) ?? [];
const celString = (v: string) => `'${v.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;
const celValue = (v: unknown) => (typeof v === 'string' ? celString(v) : String(v));

function withRules(s: Schema, rules: { rule: string; message: string }[]): Schema {
  const all = [...rulesOf(s), ...rules];
  if (all.length) s['x-kubernetes-validations'] = all;
  return s;
}

/** One anyOf/oneOf branch's constraint as CEL over `self`, for int-or-string nodes. */
function branchCel(b: Schema): string {
  const parts: string[] = [];
  if (Array.isArray(b.enum)) parts.push(`self in [${b.enum.map(celValue).join(', ')}]`);
  if (typeof b.minimum === 'number') parts.push(`self >= ${b.minimum}`);
  if (typeof b.maximum === 'number') parts.push(`self <= ${b.maximum}`);
  if (typeof b.pattern === 'string') parts.push(`self.matches(${celString(b.pattern)})`);
  return parts.length ? parts.join(' && ') : 'true';
}

function describeBranch(b: Schema): string {
  if (Array.isArray(b.enum)) return b.enum.map((v) => JSON.stringify(v)).join(' or ');
  if (b.type === 'string') return typeof b.pattern === 'string' ? `a string matching ${b.pattern}` : 'a string';
  return typeof b.minimum === 'number' && b.minimum >= 0 ? 'a whole number >= ' + b.minimum : 'a whole number';
}

function intOrString(outer: Schema, branches: Schema[]): Schema {
  const num = branches.find((b) => b.type === 'integer' || b.type === 'number')!;
  const str = branches.find((b) => b.type === 'string')!;
  const out: Schema = { ...outer, 'x-kubernetes-int-or-string': true, maxLength: MAX_INT_OR_STRING_LENGTH };
  // A rule given on the schema itself (units.ts) says it better than one derived from branches.
  if (rulesOf(outer).length) return out;
  const rule = `type(self) == int ? (${branchCel(num)}) : (${branchCel(str)})`;
  if (rule === 'type(self) == int ? (true) : (true)') return out;
  return withRules(out, [{ rule, message: `must be ${describeBranch(num)} or ${describeBranch(str)}` }]);
}

/** Two structural schemas for the same property name in different union branches. */
function mergeProperty(a: Schema, b: Schema): Schema {
  if (JSON.stringify(a) === JSON.stringify(b)) return a;
  if (a['x-kubernetes-int-or-string'] && (b.type === 'integer' || b['x-kubernetes-int-or-string'])) return a;
  if (b['x-kubernetes-int-or-string'] && a.type === 'integer') return b;
  if (a.type === b.type && a.type === 'string') {
    if (Array.isArray(a.enum) && Array.isArray(b.enum)) return { ...a, enum: [...new Set([...a.enum, ...b.enum])] };
    const { enum: _e, pattern: _p, ...rest } = a;
    return rest;
  }
  if (a.type === b.type && (a.type === 'integer' || a.type === 'number')) {
    const { minimum: _a, maximum: _b, enum: _c, ...rest } = a;
    return rest;
  }
  return { description: a.description, 'x-kubernetes-preserve-unknown-fields': true };
}

/** A union of objects becomes one object with every branch's fields, plus CEL per discriminator value. */
function hoistObjects(outer: Schema, branches: Schema[]): Schema {
  const properties: Record<string, Schema> = {};
  for (const b of branches) {
    for (const [k, v] of Object.entries((b.properties as Record<string, Schema>) ?? {})) {
      properties[k] = properties[k] ? mergeProperty(properties[k]!, v) : v;
    }
  }
  // A default on a field only some branches have would be filled into every object (and then
  // break the per-branch rules below): the branch's consumer applies it instead.
  for (const [k, v] of Object.entries(properties)) {
    if (!branches.every((b) => k in ((b.properties as Record<string, Schema>) ?? {})) && 'default' in v) {
      const { default: _d, ...rest } = v;
      properties[k] = rest;
    }
  }
  const reqs = branches.map((b) => new Set((b.required as string[]) ?? []));
  const required = [...reqs[0]!].filter((k) => reqs.every((r) => r.has(k)));
  const disc = Object.keys(properties).find((k) => branches.every((b) => {
    const p = (b.properties as Record<string, Schema> | undefined)?.[k];
    return p && Array.isArray(p.enum) && p.enum.length === 1 && reqs[branches.indexOf(b)]!.has(k);
  }));
  const out: Schema = { ...outer, type: 'object', properties };
  if (required.length) out.required = required;
  if (!disc) return out;
  const rules = branches.map((b) => {
    const props = (b.properties as Record<string, Schema>);
    const value = (props[disc]!.enum as unknown[])[0];
    const need = [...((b.required as string[]) ?? [])].filter((k) => k !== disc && !required.includes(k));
    const foreign = Object.keys(properties).filter((k) => !(k in props));
    const checks = [...need.map((k) => `has(self.${k})`), ...foreign.map((k) => `!has(self.${k})`)];
    const allowed = Object.keys(props).filter((k) => k !== disc);
    const message = `${disc} ${JSON.stringify(value)}${need.length ? ` requires ${need.join(', ')};` : ''} allowed fields: ${allowed.join(', ') || 'none'}`;
    return { rule: `self.${disc} != ${celValue(value)} || (${checks.join(' && ') || 'true'})`, message };
  }).filter((r) => !r.rule.endsWith('|| (true)'));
  return withRules(out, rules);
}

function junction(outer: Schema, branches: Schema[]): Schema {
  const types = branches.map((b) => b.type);
  if (branches.every((b) => b.type === 'string' && Array.isArray(b.enum))) {
    return { ...outer, type: 'string', enum: [...new Set(branches.flatMap((b) => b.enum as unknown[]))] };
  }
  if (branches.length === 2 && types.includes('string') && (types.includes('integer') || types.includes('number'))) {
    return intOrString(outer, branches);
  }
  if (branches.every((b) => b.type === 'object')) return hoistObjects(outer, branches);
  throw new Error(`cannot make a structural schema of a union of ${JSON.stringify(types)}`);
}

export function structuralize(input: Schema): Schema {
  const s: Schema = { ...input };
  for (const k of DROP) delete s[k];
  if (s.additionalProperties === false) delete s.additionalProperties;
  if (s.uniqueItems) {
    delete s.uniqueItems;
    s['x-kubernetes-list-type'] = 'set';
  }
  const union = (s.anyOf ?? s.oneOf) as Schema[] | undefined;
  if (union) {
    delete s.anyOf;
    delete s.oneOf;
    return structuralize(junction(s, union.map(structuralize)));
  }
  if (s.type === undefined && !s['x-kubernetes-int-or-string'] && !s['x-kubernetes-preserve-unknown-fields']) {
    if (Array.isArray(s.enum) && s.enum.every((v) => typeof v === 'string')) s.type = 'string';
    else return { ...s, 'x-kubernetes-preserve-unknown-fields': true };
  }
  if (s.type === 'integer') {
    if (s.minimum === -SAFE_INT) delete s.minimum;
    if (s.maximum === SAFE_INT) delete s.maximum;
    s.format ??= 'int64';
  }
  if (s.format === 'date-time') delete s.pattern;
  if (typeof s.format === 'string' && !KNOWN_FORMATS.has(s.format)) delete s.format;
  if (isObj(s.properties)) {
    s.properties = Object.fromEntries(Object.entries(s.properties).map(([k, v]) => [k, structuralize(v as Schema)]));
  }
  if (isObj(s.items)) s.items = structuralize(s.items);
  if (isObj(s.additionalProperties)) {
    s.additionalProperties = Object.keys(s.additionalProperties).length === 0
      ? { 'x-kubernetes-preserve-unknown-fields': true }
      : structuralize(s.additionalProperties);
  }
  return s;
}
