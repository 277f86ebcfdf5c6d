// What a scenario may do to a cluster: kubectl and helm against one kubeconfig, manifests from
// this folder with ${VARS} filled in, waits, pod logs, and port-forwards to reach a Service from
// the test. Nothing here knows which cluster it is (the local one-node cluster of e2e/lib/cluster
// or a kind cluster in hosted CI): both run the same scenarios through this interface.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export interface ScenarioEnv {
  kubeconfig: string;
  kubectlBin: string;
  helmBin: string;
  /** Image references already loaded into the cluster's runtime (no registry is ever contacted). */
  images: { floodgate: string; app: string; minio: string };
  chart: string;
  log: (line: string) => void;
}

export interface Result { code: number; stdout: string; stderr: string }

const MANIFESTS = join(import.meta.dirname, 'manifests');
const COMMAND_TIMEOUT_MS = 300_000;

export function run(bin: string, args: string[], env: ScenarioEnv, o: { input?: string; allowFail?: boolean; timeoutMs?: number } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    // No input, no pipe: a command that exits before we close its stdin (kubectl delete --wait=false)
    // made the write fail with EPIPE, an error outside the test's await that failed the scenario.
    const child = spawn(bin, args, { env: { ...process.env, KUBECONFIG: env.kubeconfig }, stdio: [o.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs ?? COMMAND_TIMEOUT_MS);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      const r = { code: code ?? -1, stdout, stderr };
      if (r.code !== 0 && !o.allowFail) reject(new Error(`${bin.split('/').at(-1)} ${args.join(' ')} exited ${r.code}: ${stderr.trim() || stdout.trim()}`));
      else resolve(r);
    });
    // With input, one that exits without reading it all says why in its exit code, not our EPIPE.
    if (o.input !== undefined) child.stdin!.on('error', (e: NodeJS.ErrnoException) => { if (e.code !== 'EPIPE') reject(e); }).end(o.input);
  });
}

export interface Kube {
  env: ScenarioEnv;
  kubectl(args: string[], o?: { input?: string; allowFail?: boolean; timeoutMs?: number }): Promise<Result>;
  helm(args: string[], o?: { allowFail?: boolean; timeoutMs?: number }): Promise<Result>;
  /** `kubectl apply` of a manifest file in e2e/scenarios/manifests with ${VARS} substituted. */
  apply(file: string, vars?: Record<string, string>, o?: { allowFail?: boolean }): Promise<Result>;
  get(kind: string, ns: string, name: string): Promise<any | undefined>;
  list(kind: string, ns: string, selector?: string): Promise<any[]>;
  waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs?: number): Promise<T>;
  logs(ns: string, target: string, container?: string): Promise<string>;
  /** Forwards a local 127.0.0.1 port to a Service or pod port; close() ends the kubectl process. */
  portForward(ns: string, target: string, port: number): Promise<{ url: string; close(): void }>;
}

export function manifest(file: string, vars: Record<string, string>): string {
  return readFileSync(join(MANIFESTS, file), 'utf8').replace(/\$\{([A-Z_][A-Z0-9_]*)\}/g, (_, k: string) => {
    const v = vars[k];
    if (v === undefined) throw new Error(`${file}: \${${k}} has no value`);
    return v;
  });
}

export function connect(env: ScenarioEnv): Kube {
  const kubectl: Kube['kubectl'] = (args, o) => run(env.kubectlBin, args, env, o);
  const base = { FLOODGATE_IMAGE: env.images.floodgate, APP_IMAGE: env.images.app, MINIO_IMAGE: env.images.minio };
  const k: Kube = {
    env,
    kubectl,
    helm: (args, o) => run(env.helmBin, args, env, o),
    apply: (file, vars = {}, o) => kubectl(['apply', '--server-side', '--force-conflicts', '--field-manager=floodgate-e2e', '-f', '-'],
      { input: manifest(file, { ...base, ...vars }), allowFail: o?.allowFail }),
    async get(kind, ns, name) {
      const r = await kubectl(['get', kind, name, '-n', ns, '-o', 'json'], { allowFail: true });
      return r.code === 0 ? JSON.parse(r.stdout) : undefined;
    },
    async list(kind, ns, selector) {
      const r = await kubectl(['get', kind, '-n', ns, '-o', 'json', ...(selector ? ['-l', selector] : [])]);
      return JSON.parse(r.stdout).items;
    },
    async waitFor(what, fn, timeoutMs = 180_000) {
      const deadline = Date.now() + timeoutMs;
      let last: unknown;
      for (;;) {
        try {
          const v = await fn();
          if (v !== undefined && v !== false) return v as never;
          last = v;
        } catch (e) {
          last = e;
        }
        if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)?.slice(0, 1500)}`);
        await new Promise((r) => setTimeout(r, 1000));
      }
    },
    async logs(ns, target, container) {
      return (await kubectl(['logs', '-n', ns, target, ...(container ? ['-c', container] : [])])).stdout;
    },
    portForward: (ns, target, port) => new Promise((resolve, reject) => {
      const child = spawn(env.kubectlBin, ['port-forward', '-n', ns, '--address', '127.0.0.1', target, `:${port}`],
        { env: { ...process.env, KUBECONFIG: env.kubeconfig }, stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`port-forward ${target}: no port after 30 s: ${out}`)); }, 30_000);
      const onData = (d: Buffer) => {
        out += d;
        const m = /Forwarding from 127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve({ url: `http://127.0.0.1:${m[1]}`, close: () => child.kill('SIGTERM') });
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`port-forward ${target} exited ${code}: ${out}`)); });
    }),
  };
  return k;
}

export const condition = (obj: any, type: string) => (obj?.status?.conditions as any[] | undefined)?.find((c) => c.type === type);

/** The JSON lines an application pod (e2e/apps/s3-app.ts) printed. */
export function outcomes(logText: string): { t: number; op: string; key: string; ok: boolean; status?: number; code?: string; sha?: string }[] {
  return logText.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l));
}
