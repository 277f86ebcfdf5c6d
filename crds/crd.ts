// A ResourceDef (resources.ts) → its CustomResourceDefinition: zod → JSON Schema (input side, so
// defaulted fields are optional) → structural schema → CRD object.
import { z } from 'zod';
import { GROUP, VERSION } from './meta.ts';
import { RESOURCES, type ResourceDef } from './resources.ts';
import { structuralize, type Schema } from './structural.ts';

export function openApiOf(schema: z.ZodType): Schema {
  return structuralize(z.toJSONSchema(schema, { target: 'openapi-3.0', io: 'input', unrepresentable: 'throw', reused: 'inline' }) as Schema);
}

export function crdOf(def: ResourceDef): Schema {
  const root: Schema = {
    type: 'object',
    description: def.description,
    required: ['spec'],
    properties: {
      apiVersion: { type: 'string', description: 'APIVersion defines the versioned schema of this representation of an object.' },
      kind: { type: 'string', description: 'Kind is a string value representing the REST resource this object represents.' },
      metadata: { type: 'object' },
      spec: { ...openApiOf(def.spec), description: `desired state of the ${def.kind}` },
      status: { ...openApiOf(def.status), description: `observed state of the ${def.kind}, written by the operator` },
    },
  };
  if (def.rules?.length) root['x-kubernetes-validations'] = def.rules;
  return {
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${def.plural}.${GROUP}`, labels: { 'app.kubernetes.io/part-of': 'floodgate' } },
    spec: {
      group: GROUP,
      names: { kind: def.kind, listKind: `${def.kind}List`, plural: def.plural, singular: def.singular, shortNames: def.shortNames, categories: ['floodgate'] },
      scope: 'Namespaced',
      versions: [{
        name: VERSION,
        served: true,
        storage: true,
        subresources: { status: {} },
        additionalPrinterColumns: def.columns,
        schema: { openAPIV3Schema: root },
      }],
    },
  };
}

export const allCrds = (): Schema[] => RESOURCES.map(crdOf);
