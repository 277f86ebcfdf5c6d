// Which BackendBuckets a VirtualBucket uses: by name list (in that order) or by label selector
// (in name order), always within its own namespace. Both controllers ask this, in both directions.
import type { KubeObject } from './kube/types.ts';

export interface SelectorSpec {
  backends?: string[];
  backendSelector?: { matchLabels?: Record<string, string> };
}

const specOf = (vb: KubeObject) => (vb.spec ?? {}) as SelectorSpec;

export function selects(vb: KubeObject, bb: KubeObject): boolean {
  if (vb.metadata.namespace !== bb.metadata.namespace) return false;
  const s = specOf(vb);
  if (s.backends?.length) return s.backends.includes(bb.metadata.name);
  const want = Object.entries(s.backendSelector?.matchLabels ?? {});
  if (!s.backendSelector) return false;
  return want.every(([k, v]) => bb.metadata.labels?.[k] === v);
}

/** The selected BackendBuckets in order, and names listed that do not exist. */
export function selectBackends(vb: KubeObject, all: readonly KubeObject[]): { found: KubeObject[]; missing: string[] } {
  const s = specOf(vb);
  const inNs = all.filter((b) => b.metadata.namespace === vb.metadata.namespace);
  if (s.backends?.length) {
    const found: KubeObject[] = [];
    const missing: string[] = [];
    for (const n of s.backends) {
      const b = inNs.find((x) => x.metadata.name === n);
      if (b) found.push(b);
      else missing.push(n);
    }
    return { found, missing };
  }
  return { found: inNs.filter((b) => selects(vb, b)).sort((a, b) => a.metadata.name.localeCompare(b.metadata.name)), missing: [] };
}
