// containerd with everything private: root, state, socket, runc root, the opt folder, and CNI
// config, under the state folder. The one change this machine needs: restrict_oom_score_adj
// (no CAP_SYS_RESOURCE here, so runc cannot give a sandbox a negative oom_score_adj).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child, ProcessGroup } from '../controlplane-processes.ts';
import { waitUntil } from '../controlplane.ts';
import { POD_CIDR, POD_LINK, type Paths } from './layout.ts';
import { sh } from './host.ts';

export const PAUSE_IMAGE = 'floodgate.local/pause:1';

function config(p: Paths): string {
  const d = p.containerd;
  return `version = 2
root = "${join(d, 'root')}"
state = "${join(d, 'state')}"
disabled_plugins = ["io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.aufs", "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing"]

[grpc]
  address = "${p.containerdSock}"
[ttrpc]
  address = "${p.containerdSock}.ttrpc"
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = "${join(d, 'opt')}"

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "${PAUSE_IMAGE}"
  restrict_oom_score_adj = true
  # Pod netns bind mounts under the state folder, not /run/netns: teardown finds them there.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "${join(d, 'runc')}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "${p.cniConf}"
    max_conf_num = 1
`;
}

function cniConflist(p: Paths): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'floodgate-cluster',
    plugins: [
      {
        type: 'bridge', bridge: POD_LINK, isGateway: true, ipMasq: false, hairpinMode: true,
        ipam: { type: 'host-local', ranges: [[{ subnet: POD_CIDR }]], routes: [{ dst: '0.0.0.0/0' }], dataDir: p.cniIpam },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  }, null, 2);
}

export async function startContainerd(p: Paths, procs: ProcessGroup): Promise<Child> {
  for (const dir of [p.containerd, p.cniConf, p.cniIpam]) mkdirSync(dir, { recursive: true });
  const configPath = join(p.containerd, 'config.toml');
  writeFileSync(configPath, config(p));
  writeFileSync(join(p.cniConf, '10-floodgate.conflist'), cniConflist(p));
  const child = procs.spawn('containerd', 'containerd', ['--config', configPath]);
  await waitUntil(child, async () => ctr(p, ['version'], true) !== '', 'containerd socket');
  return child;
}

export function ctr(p: Paths, args: string[], allowFail = false): string {
  return sh('ctr', ['--address', p.containerdSock, '--namespace', 'k8s.io', ...args], { allowFail });
}

/** Imports a docker-archive / OCI archive into the CRI's namespace (what pods with pullPolicy Never/IfNotPresent use). */
export function importImage(p: Paths, archive: string): void {
  ctr(p, ['images', 'import', '--all-platforms', archive]);
}
