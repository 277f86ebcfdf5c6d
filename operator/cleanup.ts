// `floodgate operator cleanup`: the way out before the operator goes away (the chart's pre-delete
// hook runs it on `helm uninstall`). Deletes every Floodgate resource in the namespaces given (or
// all), waits for the running operator to release them (its finalizers do the cleanup they
// guard), and when that does not happen in time — the operator is already gone — strips the
// floodgate.dev finalizers so the deletions complete. Finalizers of other controllers are kept.
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { parseDuration } from '../crds/units.ts';
import { createKube, isNotFound, loadKubeConfig, pathOf, type Kube } from './kube/api.ts';
import { checkReachable } from './kube/reachable.ts';
import type { KubeObject, ResourceType } from './kube/types.ts';

const GROUP = 'floodgate.dev';
/** FaultExperiments first (their faults revert), BackendBuckets last (they wait for their users). */
const KINDS: ResourceType[] = [
  { group: GROUP, version: 'v1alpha1', plural: 'faultexperiments', kind: 'FaultExperiment' },
  { group: GROUP, version: 'v1alpha1', plural: 'virtualbuckets', kind: 'VirtualBucket' },
  { group: GROUP, version: 'v1alpha1', plural: 'backendbuckets', kind: 'BackendBucket' },
];

const FLAGS = {
  kubeconfig: { type: 'string', help: 'kubeconfig file (default: in-cluster, then $KUBECONFIG / ~/.kube/config)' },
  namespace: { type: 'string', multiple: true, help: 'only this namespace (repeatable; default: all)' },
  timeout: { type: 'string', help: 'how long to wait for the operator to release them before stripping finalizers (default 2m)' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const;

export function cleanupUsage(): string {
  return ['Usage: floodgate operator cleanup [flags]', '',
    'Deletes every BackendBucket, VirtualBucket and FaultExperiment, waits for the operator to release them,',
    'then strips the floodgate.dev finalizers of any left (the operator is gone). Run it before uninstalling.', '', 'Flags:',
    ...Object.entries(FLAGS).map(([n, f]) => `  --${n.padEnd(12)} ${f.help}`)].join('\n');
}

export interface CleanupReport {
  deleted: number;
  /** Released by the operator within the timeout. */
  released: number;
  /** Objects whose floodgate.dev finalizers were stripped. */
  stripped: string[];
  /** Still there at the end (finalizers of other controllers, or errors). */
  left: string[];
}

const nameOf = (t: ResourceType, o: KubeObject) => `${t.kind} ${o.metadata.namespace}/${o.metadata.name}`;

async function listKind(kube: Kube, t: ResourceType, namespaces: string[] | undefined): Promise<KubeObject[]> {
  const out: KubeObject[] = [];
  for (const ns of namespaces ?? [undefined]) {
    try {
      out.push(...(await kube.request<{ items: KubeObject[] }>('GET', pathOf(t, ns))).items);
    } catch (e) {
      // A CRD never installed (or already removed) has nothing to clean.
      if (!isNotFound(e)) throw e;
    }
  }
  return out;
}

async function listAll(kube: Kube, namespaces: string[] | undefined) {
  const all: { t: ResourceType; o: KubeObject }[] = [];
  for (const t of KINDS) for (const o of await listKind(kube, t, namespaces)) all.push({ t, o });
  return all;
}

export async function cleanup(kube: Kube, o: { namespaces?: string[]; timeoutMs: number; log?: (line: string) => void }): Promise<CleanupReport> {
  const log = o.log ?? (() => {});
  const first = await listAll(kube, o.namespaces);
  for (const { t, o: obj } of first) {
    if (obj.metadata.deletionTimestamp) continue;
    await kube.request('DELETE', pathOf(t, obj.metadata.namespace, obj.metadata.name)).catch((e) => { if (!isNotFound(e)) throw e; });
  }
  log(`cleanup: ${first.length} Floodgate resources deleted; waiting up to ${Math.round(o.timeoutMs / 1000)}s for the operator to release them`);
  const deadline = Date.now() + o.timeoutMs;
  let left = first;
  for (let i = 0; i < 100_000 && left.length && Date.now() < deadline; i++) {
    await sleep(Math.min(1_000, Math.max(0, deadline - Date.now())));
    left = await listAll(kube, o.namespaces);
  }
  const released = first.length - left.length;
  const stripped: string[] = [];
  for (const { t, o: obj } of left) {
    const finalizers = obj.metadata.finalizers ?? [];
    const keep = finalizers.filter((f) => !f.startsWith(`${GROUP}/`));
    if (keep.length === finalizers.length) continue;
    try {
      // The resourceVersion makes this a compare-and-swap: a finalizer added meanwhile is not lost.
      await kube.request('PATCH', pathOf(t, obj.metadata.namespace, obj.metadata.name), {
        body: { metadata: { finalizers: keep, resourceVersion: obj.metadata.resourceVersion } }, contentType: 'application/merge-patch+json',
      });
      stripped.push(nameOf(t, obj));
    } catch (e) {
      if (!isNotFound(e)) log(`cleanup: cannot strip the finalizers of ${nameOf(t, obj)}: ${(e as Error).message}`);
    }
  }
  if (stripped.length) log(`cleanup: the operator did not release ${stripped.length} in time; their floodgate.dev finalizers were removed: ${stripped.join(', ')}`);
  let remaining = left;
  for (let i = 0; i < 10 && remaining.length; i++) {
    await sleep(i === 0 ? 200 : 1_000);
    remaining = await listAll(kube, o.namespaces);
  }
  return { deleted: first.length, released, stripped, left: remaining.map(({ t, o: obj }) => nameOf(t, obj)) };
}

export async function runCleanup(argv: string[]): Promise<number> {
  let values: { kubeconfig?: string; namespace?: string[]; timeout?: string; help?: boolean };
  try {
    ({ values } = parseArgs({ args: argv, options: FLAGS as never, strict: true, allowPositionals: false }) as { values: typeof values });
  } catch (e) {
    process.stderr.write(`floodgate operator cleanup: ${(e as Error).message}\n`);
    return 2;
  }
  if (values.help) {
    process.stdout.write(cleanupUsage() + '\n');
    return 0;
  }
  const timeoutMs = parseDuration(values.timeout ?? '2m');
  if (timeoutMs === undefined) {
    process.stderr.write(`floodgate operator cleanup: --timeout: expected a duration like 30s or 2m, got "${values.timeout}"\n`);
    return 2;
  }
  let kube: Kube;
  try {
    kube = createKube(loadKubeConfig(values.kubeconfig), { requestTimeoutMs: 10_000 });
  } catch (e) {
    process.stderr.write(`floodgate operator cleanup: cannot load kubeconfig: ${(e as Error).message}\n`);
    return 2;
  }
  const reach = await checkReachable(kube, 10_000);
  if (!reach.ok) {
    process.stderr.write(`floodgate operator cleanup: ${reach.message}\n`);
    return 1;
  }
  const r = await cleanup(kube, { namespaces: values.namespace, timeoutMs, log: (line) => process.stdout.write(line + '\n') });
  process.stdout.write(`cleanup: ${r.deleted} deleted, ${r.released} released by the operator, ${r.stripped.length} finalizers stripped, ${r.left.length} left${r.left.length ? `: ${r.left.join(', ')}` : ''}\n`);
  return r.left.length ? 1 : 0;
}
