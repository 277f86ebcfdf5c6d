// The Floodgate image as `make image` builds it, without Docker or a registry: reproducible, what
// skopeo reads from it, the same config as the Dockerfile, and run for real in a private
// containerd with a read-only root filesystem, Node as PID 1 answering SIGTERM.
// The image is built from a local clone of HEAD, so edits in the working tree made while the test
// runs cannot change what the two builds see.
import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, normalize, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { containerdUsable, startContainerd, type Containerd, type CtrChild } from './lib/containerd.ts';
import { startControlPlane } from './lib/controlplane.ts';
import { freePort } from './lib/ports.ts';
import { IMAGE, VERSION, SOURCE_URL } from '../version.ts';

const ROOT = resolve(import.meta.dirname, '..');
const UID = 65532;
const EXIT_BOUND_MS = 20_000;
/** ctr run's arguments replace the whole command line (a pod's `args:` replace only the CMD). */
const ENTRYPOINT = ['/usr/local/bin/node', '--max-semi-space-size=8', '--heap-growing-percent=50', '/app/main.ts'];

interface ImageConfig {
  config: { User?: string; Entrypoint?: string[]; Cmd?: string[]; WorkingDir?: string; Env?: string[]; Labels?: Record<string, string>; Volumes?: Record<string, object>; ExposedPorts?: Record<string, object> };
}

const work = mkdtempSync(join(tmpdir(), 'floodgate-image-'));
const src = join(work, 'src');

function build(out: string): string {
  const stdout = execFileSync(join(src, 'tools/image/floodgate.sh'), ['--out', out], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  assert.equal(stdout.trim().split('\n').at(-1), out, 'floodgate.sh prints the archive path last');
  return out;
}

function tarFile(archive: string, member: string): string {
  return execFileSync('tar', ['-xOf', archive, member], { encoding: 'utf8', maxBuffer: 1 << 20 });
}

function manifestDigest(archive: string): string {
  const index = JSON.parse(tarFile(archive, 'index.json')) as { manifests: { digest: string }[] };
  return index.manifests[0]!.digest;
}

function configOf(archive: string): ImageConfig {
  const [m] = JSON.parse(tarFile(archive, 'manifest.json')) as { Config: string; RepoTags: string[] }[];
  return JSON.parse(tarFile(archive, m!.Config)) as ImageConfig;
}

/** The files of the app layer (the last one), relative to /. */
function appLayerFiles(archive: string): string[] {
  const [m] = JSON.parse(tarFile(archive, 'manifest.json')) as { Layers: string[] }[];
  const layer = execFileSync('tar', ['-xOf', archive, m!.Layers.at(-1)!], { maxBuffer: 64 << 20 });
  const list = execFileSync('tar', ['-t'], { input: layer, encoding: 'utf8', maxBuffer: 16 << 20 });
  return list.split('\n').filter((f) => f && !f.endsWith('/'));
}

/** The Dockerfile's `floodgate` stage as instruction → arguments, with ARG defaults substituted. */
function dockerfileConfig(text: string) {
  const lines = text.replace(/\\\n\s*/g, ' ').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
  const from = lines.findIndex((l) => /^FROM \S+ AS floodgate$/i.test(l));
  assert.ok(from >= 0, 'the Dockerfile has a `FROM … AS floodgate` stage');
  const next = lines.findIndex((l, i) => i > from && /^FROM /i.test(l));
  const stage = lines.slice(from, next < 0 ? undefined : next);
  const args: Record<string, string> = {};
  const subst = (s: string) => s.replace(/\$\{(\w+)\}/g, (_, k: string) => args[k] ?? '');
  const out = { user: '', workdir: '', entrypoint: [] as string[], cmd: [] as string[], env: [] as string[], volumes: [] as string[], expose: [] as string[], labels: {} as Record<string, string> };
  for (const line of stage) {
    const [, op, rest] = /^(\w+)\s+(.*)$/.exec(line)!;
    const v = subst(rest!);
    switch (op!.toUpperCase()) {
      case 'ARG': { const [k, d] = v.split('='); args[k!] = d ?? ''; break; }
      case 'USER': out.user = v; break;
      case 'WORKDIR': out.workdir = v; break;
      case 'ENTRYPOINT': out.entrypoint = JSON.parse(v) as string[]; break;
      case 'CMD': out.cmd = JSON.parse(v) as string[]; break;
      case 'ENV': out.env.push(v); break;
      case 'VOLUME': out.volumes.push(...(JSON.parse(v) as string[])); break;
      case 'EXPOSE': out.expose.push(...v.split(/\s+/)); break;
      case 'LABEL': for (const kv of v.split(/\s+/)) { const i = kv.indexOf('='); out.labels[kv.slice(0, i)] = kv.slice(i + 1); } break;
    }
  }
  return out;
}

let archive = '';
let second = '';

/** floodgate.sh needs a static busybox for the image (tools/cluster-pkgs.sh installs it). */
const cannotBuild = existsSync('/bin/busybox') ? undefined : 'busybox-static not installed (apt-get install busybox-static)';

before(() => {
  if (cannotBuild) return;
  execFileSync('git', ['clone', '--quiet', '--local', ROOT, src], { stdio: 'inherit' });
  archive = build(join(work, 'a', `floodgate-image-${VERSION}.tar`));
  second = build(join(work, 'b', `floodgate-image-${VERSION}.tar`));
});
after(() => rmSync(work, { recursive: true, force: true }));

describe('the image archive', { skip: cannotBuild }, () => {
  test('two builds of the same commit are the same bytes and digest', () => {
    assert.equal(manifestDigest(second), manifestDigest(archive));
    assert.equal(execFileSync('sha256sum', [second], { encoding: 'utf8' }).split(' ')[0], execFileSync('sha256sum', [archive], { encoding: 'utf8' }).split(' ')[0]);
  });

  test('is tagged with the release image and says who runs it and how', () => {
    const [m] = JSON.parse(tarFile(archive, 'manifest.json')) as { RepoTags: string[] }[];
    assert.deepEqual(m!.RepoTags, [IMAGE]);
    const { config } = configOf(archive);
    assert.equal(config.User, `${UID}:${UID}`);
    assert.deepEqual(config.Entrypoint, ENTRYPOINT);
    assert.deepEqual(Object.keys(config.Volumes ?? {}).sort(), ['/tmp', '/var/lib/floodgate']);
    const revision = execFileSync('git', ['-C', src, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    assert.deepEqual(config.Labels, {
      'org.opencontainers.image.title': 'floodgate', 'org.opencontainers.image.version': VERSION,
      'org.opencontainers.image.source': SOURCE_URL, 'org.opencontainers.image.revision': revision,
    });
  });

  test('skopeo reads it as a docker-archive and as an OCI archive', (t) => {
    try { execFileSync('sh', ['-c', 'command -v skopeo'], { stdio: 'ignore' }); } catch { return t.skip('skopeo not installed (apt-get install skopeo)'); }
    const docker = JSON.parse(execFileSync('skopeo', ['inspect', '--config', `docker-archive:${archive}`], { encoding: 'utf8' })) as ImageConfig;
    assert.equal(docker.config.User, `${UID}:${UID}`);
    assert.deepEqual(docker.config.Entrypoint, ENTRYPOINT);
    assert.equal(docker.config.Labels?.['org.opencontainers.image.version'], VERSION);
    const oci = JSON.parse(execFileSync('skopeo', ['inspect', `oci-archive:${archive}`], { encoding: 'utf8' })) as { Digest: string };
    assert.equal(oci.Digest, manifestDigest(archive));
  });

  test('the Dockerfile declares the same user, entrypoint, command, workdir, volumes, ports, env and labels', () => {
    const d = dockerfileConfig(readFileSync(join(src, 'Dockerfile'), 'utf8'));
    const { config } = configOf(archive);
    assert.equal(d.user, config.User);
    assert.equal(d.workdir, config.WorkingDir);
    assert.deepEqual(d.entrypoint, config.Entrypoint);
    assert.deepEqual(d.cmd, config.Cmd);
    assert.deepEqual(d.env, config.Env);
    assert.deepEqual(d.volumes.sort(), Object.keys(config.Volumes ?? {}).sort());
    assert.deepEqual(d.expose.sort(), Object.keys(config.ExposedPorts ?? {}).sort());
    // The revision is a build argument there (--build-arg REVISION=$(git rev-parse HEAD)).
    assert.deepEqual({ ...d.labels, 'org.opencontainers.image.revision': '' }, { ...config.Labels, 'org.opencontainers.image.revision': '' });
  });

  test("the Dockerfile's build stage (a context without .git, --rootfs) assembles the same files and modes", () => {
    // What `docker build` sees: the files of the commit, no .git (.dockerignore).
    const ctx = join(work, 'docker-context');
    mkdirSync(ctx);
    execFileSync('sh', ['-c', `git -C '${src}' archive HEAD | tar -x -C '${ctx}'`]);
    const rootfs = join(work, 'rootfs');
    execFileSync(join(ctx, 'tools/image/floodgate.sh'), ['--rootfs', rootfs], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, FLOODGATE_REVISION: 'x' } });
    const fromRootfs = new Set(execFileSync('find', [rootfs, '-mindepth', '1', '-printf', '%M %P\\n'], { encoding: 'utf8', maxBuffer: 64 << 20 }).split('\n').filter(Boolean));
    const [m] = JSON.parse(tarFile(archive, 'manifest.json')) as { Layers: string[] }[];
    const fromArchive = new Set<string>();
    for (const layer of m!.Layers) {
      const list = execFileSync('sh', ['-c', `tar -xOf '${archive}' '${layer}' | tar -tv`], { encoding: 'utf8', maxBuffer: 64 << 20 });
      for (const line of list.split('\n').filter(Boolean)) {
        const [mode, , , , , ...rest] = line.split(/\s+/);
        fromArchive.add(`${mode} ${rest.join(' ').replace(/ -> .*$/, '').replace(/\/$/, '')}`);
      }
    }
    assert.ok(fromArchive.has('-rwxr-xr-x usr/local/bin/node') && fromArchive.has('drwxrwxrwt var/lib/floodgate'), 'the listing was parsed');
    assert.deepEqual([...fromRootfs].filter((x) => !fromArchive.has(x)), [], 'only in the --rootfs tree');
    assert.deepEqual([...fromArchive].filter((x) => !fromRootfs.has(x)), [], 'only in the archive');
  });

  test('holds the runtime sources, no tests, and every relative import they make resolves inside it', () => {
    const files = new Set(appLayerFiles(archive));
    assert.ok(files.has('app/main.ts') && files.has('app/package.json') && files.has('app/version.ts'));
    const strays = [...files].filter((f) => /\.test\.ts$|\.fixture\.ts$|^app\/(e2e|bench|docs|tools)\//.test(f));
    assert.deepEqual(strays, []);
    const missing: string[] = [];
    for (const f of files) {
      if (!f.endsWith('.ts')) continue;
      const text = readFileSync(join(src, f.slice('app/'.length)), 'utf8');
      for (const [, spec] of text.matchAll(/(?:from\s+|import\s*\(\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
        const target = normalize(join(dirname(f), spec!));
        if (!files.has(target)) missing.push(`${f} → ${spec}`);
      }
    }
    assert.deepEqual(missing, []);
  });
});

describe('the image in a private containerd', { skip: cannotBuild ?? containerdUsable() }, () => {
  let ctd: Containerd;
  let mounts: string;
  let n = 0;

  before(async () => {
    ctd = await startContainerd();
    // The flags `kind load image-archive` passes to ctr on its nodes.
    await ctd.ctr(['images', 'import', '--all-platforms', '--digests', archive], { timeoutMs: 300_000 });
    mounts = join(work, 'mounts');
    mkdirSync(mounts);
  });
  after(async () => { await ctd?.stop(); });

  /** A writable directory owned by the image's user, for a volume. */
  function volume(name: string): string {
    const d = join(mounts, `${name}-${++n}`);
    mkdirSync(d);
    chownSync(d, UID, UID);
    return d;
  }

  /** `ctr run` with a read-only root fs, the host network and volumes on /tmp and /var/lib/floodgate. */
  function run(id: string, args: string[], extra: string[] = []): CtrChild {
    return ctd.spawnCtr(['run', '--rm', '--read-only', '--net-host',
      '--mount', `type=bind,src=${volume('tmp')},dst=/tmp,options=rbind:rw`,
      '--mount', `type=bind,src=${volume('data')},dst=/var/lib/floodgate,options=rbind:rw`,
      ...extra, IMAGE, id, ...ENTRYPOINT, ...args]);
  }

  async function until(what: string, c: CtrChild, ok: () => Promise<boolean> | boolean): Promise<void> {
    for (let i = 0; i < 600; i++) {
      if (await Promise.resolve().then(ok).catch(() => false)) return;
      if (c.child.exitCode !== null) assert.fail(`${what}: container exited ${c.child.exitCode}:\n${c.output()}`);
      await sleep(100);
    }
    assert.fail(`${what}: not within 60 s:\n${c.output()}`);
  }

  /** SIGTERM to the container's PID 1 (node itself): it must exit 0 by itself. */
  async function sigtermExits(id: string, c: CtrChild): Promise<void> {
    const pid1 = await ctd.ctr(['tasks', 'exec', '--exec-id', `ps-${id}`, id, '/bin/cat', '/proc/1/cmdline']);
    assert.ok(pid1.stdout.startsWith(ENTRYPOINT.join('\0') + '\0'), `node is PID 1: ${JSON.stringify(pid1.stdout)}`);
    await ctd.ctr(['tasks', 'kill', '-s', 'SIGTERM', id]);
    const code = await Promise.race([c.exited, sleep(EXIT_BOUND_MS).then(() => 'still running' as const)]);
    if (code === 'still running') {
      await ctd.ctr(['tasks', 'kill', '-s', 'SIGKILL', id], { allowFail: true });
      assert.fail(`${id} ignored SIGTERM as PID 1:\n${c.output()}`);
    }
    assert.equal(code, 0, c.output());
  }

  test('floodgate --help runs on a read-only root filesystem as the non-root user', async () => {
    const c = run('fg-help', ['--help']);
    assert.equal(await c.exited, 0, c.output());
    assert.match(c.output(), /Usage: floodgate <command>/);
    const who = ctd.spawnCtr(['run', '--rm', '--read-only', IMAGE, 'fg-who', '/bin/sh', '-c', 'id -u; touch /x 2>&1 || true']);
    assert.equal(await who.exited, 0, who.output());
    assert.match(who.output(), new RegExp(`^${UID}\\n.*Read-only file system`, 's'));
  });

  test('floodgate gateway serves /readyz on 127.0.0.1 and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const c = run('fg-gateway', ['gateway', '--listen', `127.0.0.1:${port}`]);
    await until('gateway /readyz', c, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
    await sigtermExits('fg-gateway', c);
  });

  test('floodgate injector exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const c = run('fg-injector', ['injector', '--listen', `127.0.0.1:${port}`, '--upstream', 'http://127.0.0.1:9', '--token', 'image-test-token']);
    await until('injector listening', c, () => c.output().includes('injector listening'));
    await sigtermExits('fg-injector', c);
  });

  test('floodgate operator becomes ready against a real API server and exits 0 on SIGTERM', async () => {
    const cp = await startControlPlane();
    try {
      await cp.kubectl(['apply', '--server-side', '-f', join(src, 'crds')]);
      const kube = join(mounts, 'kube');
      mkdirSync(kube);
      writeFileSync(join(kube, 'config'), readFileSync(cp.kubeconfig), { mode: 0o644 });
      const port = await freePort();
      const c = run('fg-operator', ['operator', '--kubeconfig', '/etc/kube/config', '--http-listen', `127.0.0.1:${port}`],
        ['--mount', `type=bind,src=${kube},dst=/etc/kube,options=rbind:ro`]);
      await until('operator /readyz', c, async () => (await fetch(`http://127.0.0.1:${port}/readyz`)).ok);
      await sigtermExits('fg-operator', c);
    } finally {
      await cp.stop();
    }
  });

  test('the MinIO image (tools/image/minio.sh) serves S3 health on 127.0.0.1 and stops on SIGTERM', async () => {
    const out = execFileSync(join(src, 'tools/image/minio.sh'), { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim().split('\n').at(-1)!;
    const [m] = JSON.parse(tarFile(out, 'manifest.json')) as { RepoTags: string[] }[];
    const ref = m!.RepoTags[0]!;
    assert.match(ref, /^floodgate\.local\/minio:v[0-9]/);
    await ctd.ctr(['images', 'import', out], { timeoutMs: 300_000 });
    const port = await freePort();
    const c = ctd.spawnCtr(['run', '--rm', '--read-only', '--net-host',
      '--mount', `type=bind,src=${volume('tmp')},dst=/tmp,options=rbind:rw`, '--mount', `type=bind,src=${volume('data')},dst=/data,options=rbind:rw`,
      ref, 'fg-minio', '/usr/bin/minio', 'server', '/data', '--address', `127.0.0.1:${port}`]);
    await until('minio /minio/health/live', c, async () => (await fetch(`http://127.0.0.1:${port}/minio/health/live`)).ok);
    await ctd.ctr(['tasks', 'kill', '-s', 'SIGTERM', 'fg-minio']);
    const code = await Promise.race([c.exited, sleep(EXIT_BOUND_MS).then(() => 'still running' as const)]);
    if (code === 'still running') await ctd.ctr(['tasks', 'kill', '-s', 'SIGKILL', 'fg-minio'], { allowFail: true });
    assert.notEqual(code, 'still running', c.output());
  });
});
