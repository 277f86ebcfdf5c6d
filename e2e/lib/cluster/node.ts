// The node: the kubelet and kube-proxy, configured for this machine (cgroup v1 with cgroupfs, no
// systemd, no CAP_SYS_RESOURCE) and kept off the host: private root and log folders, a resolv.conf
// that points nowhere outside, conntrack settings that leave the host's sysctls alone, NodePorts
// only on the node IP.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Child, ProcessGroup } from '../controlplane-processes.ts';
import { freePort } from '../ports.ts';
import { CLUSTER_DOMAIN, DNS_SERVICE_IP, KUBELET_PORT, NODE_IP, NODE_NAME, POD_CIDR, type Paths } from './layout.ts';
import type { ClusterControlPlane } from './controlplane.ts';

export async function startKubelet(binDir: string, p: Paths, cp: ClusterControlPlane, procs: ProcessGroup): Promise<Child> {
  mkdirSync(p.kubelet, { recursive: true });
  mkdirSync(p.podLogs, { recursive: true });
  // Pods with dnsPolicy Default get this file: no resolver outside the machine is ever asked.
  const resolvConf = join(p.kubelet, 'resolv.conf');
  writeFileSync(resolvConf, 'nameserver 127.0.0.1\n');
  const config = join(p.kubelet, 'config.yaml');
  writeFileSync(config, JSON.stringify({
    apiVersion: 'kubelet.config.k8s.io/v1beta1',
    kind: 'KubeletConfiguration',
    failCgroupV1: false,          // 1.36 refuses cgroup v1 otherwise; this machine has only v1 controllers
    cgroupDriver: 'cgroupfs',     // no systemd; containerd 1.6 cannot report its driver
    containerRuntimeEndpoint: `unix://${p.containerdSock}`,
    address: NODE_IP,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: '127.0.0.1',
    healthzPort: await freePort(),
    authentication: { x509: { clientCAFile: cp.pki.caCert }, anonymous: { enabled: false }, webhook: { enabled: false } },
    authorization: { mode: 'AlwaysAllow' },
    resolvConf,
    clusterDNS: [DNS_SERVICE_IP],
    clusterDomain: CLUSTER_DOMAIN,
    podLogsDir: p.podLogs,
    podCIDR: POD_CIDR,
    registerNode: true,
    serializeImagePulls: false,
    // A test machine's disk may be fuller than a server's; evict only when it is nearly full.
    evictionHard: { 'memory.available': '100Mi', 'nodefs.available': '2%', 'imagefs.available': '2%' },
    imageGCHighThresholdPercent: 99,
    imageGCLowThresholdPercent: 98,
    shutdownGracePeriod: '0s',
  }, null, 2));
  return procs.spawn('kubelet', join(binDir, 'kubelet'), [
    `--config=${config}`, `--kubeconfig=${cp.kubeletKubeconfig}`, `--root-dir=${p.kubelet}`,
    `--cert-dir=${join(p.kubelet, 'pki')}`, `--hostname-override=${NODE_NAME}`, `--node-ip=${NODE_IP}`, '--v=1',
  ]);
}

export async function startKubeProxy(binDir: string, p: Paths, cp: ClusterControlPlane, procs: ProcessGroup): Promise<Child> {
  mkdirSync(p.kubelet, { recursive: true });
  const config = join(p.kubelet, 'kube-proxy.yaml');
  writeFileSync(config, JSON.stringify({
    apiVersion: 'kubeproxy.config.k8s.io/v1alpha1',
    kind: 'KubeProxyConfiguration',
    mode: 'iptables',
    clientConnection: { kubeconfig: cp.proxyKubeconfig },
    hostnameOverride: NODE_NAME,
    bindAddress: NODE_IP,
    clusterCIDR: POD_CIDR,
    healthzBindAddress: `127.0.0.1:${await freePort()}`,
    metricsBindAddress: `127.0.0.1:${await freePort()}`,
    // Zeros mean "leave the host's conntrack sysctls as they are".
    conntrack: { maxPerCore: 0, min: 0, tcpEstablishedTimeout: '0s', tcpCloseWaitTimeout: '0s' },
    nodePortAddresses: [`${NODE_IP}/32`],
    iptables: { localhostNodePorts: false, masqueradeAll: false },
  }, null, 2));
  return procs.spawn('kube-proxy', join(binDir, 'kube-proxy'), [`--config=${config}`, '--v=1']);
}
