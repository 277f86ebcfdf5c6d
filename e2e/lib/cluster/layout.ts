// Where the test cluster lives on the machine: one fixed state folder (so a crashed run's
// leftovers are found and cleaned by the next start), private address ranges, link names, and the
// host paths outside the state folder that the kubelet, containerd and the CNI plugins write to.
import { join } from 'node:path';

/** Fixed, so that the next start finds what a crashed run left. Only one cluster runs at a time. */
export const STATE_DIR = '/var/tmp/floodgate-cluster';
export const LOCK_FILE = '/var/tmp/floodgate-cluster.lock';

export const NODE_NAME = 'floodgate-node';
/** Everything the cluster addresses lies in this /16; a catch-all route keeps it on the machine. */
export const CLUSTER_RANGE = '10.213.0.0/16';
export const NODE_IP = '10.213.0.2';
export const POD_CIDR = '10.213.64.0/24';
export const POD_GATEWAY = '10.213.64.1';
export const SERVICE_CIDR = '10.213.128.0/24';
export const KUBERNETES_SERVICE_IP = '10.213.128.1';
export const DNS_SERVICE_IP = '10.213.128.10';
export const CLUSTER_DOMAIN = 'cluster.local';
/** A bridge without ports that only carries the node IP (this kernel has no `dummy` links). */
export const NODE_LINK = 'fgc-node0';
/** The CNI bridge the pods' veths join. */
export const POD_LINK = 'fgc-cni0';
export const GUARD_COMMENT = 'floodgate-cluster egress guard';
export const KUBELET_PORT = 10250;

/** Host paths the components use regardless of their configured roots; removed when we created them. */
export const HOST_PATHS = [
  '/var/lib/kubelet/device-plugins', '/var/lib/kubelet', '/var/log/containers', '/var/log/pods',
  '/var/lib/cni/results', '/var/lib/cni/networks', '/var/lib/cni', '/run/containerd', '/run/netns',
];

/** Host values the kubelet, the bridge plugin or kube-proxy may change; put back at teardown. */
export const SYSCTLS = [
  'net/ipv4/ip_forward', 'net/ipv4/conf/all/forwarding', 'net/ipv4/conf/all/route_localnet',
  'net/bridge/bridge-nf-call-iptables', 'net/bridge/bridge-nf-call-ip6tables',
  'vm/overcommit_memory', 'kernel/panic', 'kernel/panic_on_oops',
  'net/netfilter/nf_conntrack_max', 'net/netfilter/nf_conntrack_tcp_timeout_established',
  'net/netfilter/nf_conntrack_tcp_timeout_close_wait', 'net/netfilter/nf_conntrack_tcp_be_liberal',
];

export function paths(root = STATE_DIR) {
  return {
    root,
    procs: join(root, 'procs'),            // component logs + pids (processGroup)
    pki: join(root, 'pki'),
    etcd: join(root, 'etcd'),
    containerd: join(root, 'containerd'),
    containerdSock: join(root, 'containerd', 'containerd.sock'),
    netns: join(root, 'containerd', 'state', 'io.containerd.grpc.v1.cri', 'netns'),
    cniConf: join(root, 'cni', 'net.d'),
    cniIpam: join(root, 'cni', 'ipam'),
    cniCache: join(root, 'cni', 'cache'),
    kubelet: join(root, 'kubelet'),
    podLogs: join(root, 'pod-logs'),
    volumes: join(root, 'volumes'),        // the static PersistentVolumes' folders (dns.ts)
    record: join(root, 'host-before.json'), // what the host looked like before this cluster
    kubeconfig: join(root, 'admin.kubeconfig'),
  };
}
export type Paths = ReturnType<typeof paths>;
