// The cluster's control plane: the processes of e2e/lib/controlplane.ts configured for a real
// node — Node,RBAC authorization with NodeRestriction, the node IP as advertise address (the
// `kubernetes` Service's endpoint, relayed to 127.0.0.1 by socat), the apiserver's client
// certificate for the kubelet (logs, exec, port-forward), every controller and the scheduler.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { issueClientCert, newToken, writeKubeconfig, writePki, writeTokenFile, type Pki, type TokenUser } from '../controlplane-pki.ts';
import type { Child, ProcessGroup } from '../controlplane-processes.ts';
import { readyz, waitUntil } from '../controlplane.ts';
import { freePort } from '../ports.ts';
import { CLUSTER_DOMAIN, KUBERNETES_SERVICE_IP, NODE_IP, NODE_NAME, POD_CIDR, SERVICE_CIDR, type Paths } from './layout.ts';

export interface ClusterControlPlane {
  server: string;
  apiPort: number;
  pki: Pki;
  admin: TokenUser;
  /** Kubeconfigs for the node components. */
  kubeletKubeconfig: string;
  proxyKubeconfig: string;
  children: Child[];
}

/** `binDir`: tools/k8s-bins.sh's (etcd, apiserver, controller manager); `nodeBinDir`: tools/cluster-bins.sh's (scheduler). */
export async function startControlPlane(binDir: string, nodeBinDir: string, p: Paths, procs: ProcessGroup): Promise<ClusterControlPlane> {
  mkdirSync(p.pki, { recursive: true });
  const pki = writePki(p.pki, {
    extraSans: [`IP:${NODE_IP}`, `IP:${KUBERNETES_SERVICE_IP}`, 'DNS:kubernetes', 'DNS:kubernetes.default',
      'DNS:kubernetes.default.svc', `DNS:kubernetes.default.svc.${CLUSTER_DOMAIN}`],
  });
  const [kubeletClientCert, kubeletClientKey] = issueClientCert(pki, p.pki, 'apiserver-kubelet-client',
    'kube-apiserver-kubelet-client', ['system:masters']);
  const admin = newToken('floodgate-admin', ['system:masters']);
  const kcm = newToken('system:kube-controller-manager', ['system:masters']);
  const scheduler = newToken('system:kube-scheduler', []);
  // The Node authorizer and NodeRestriction key on this exact identity.
  const kubelet = newToken(`system:node:${NODE_NAME}`, ['system:nodes']);
  const proxy = newToken('system:kube-proxy', []);
  writeTokenFile(join(p.pki, 'tokens.csv'), [admin, kcm, scheduler, kubelet, proxy]);

  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const peerUrl = `http://127.0.0.1:${peerPort}`;
  const etcd = procs.spawn('etcd', join(binDir, 'etcd'), [
    '--name=default', `--data-dir=${p.etcd}`,
    `--listen-client-urls=${etcdUrl}`, `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=${peerUrl}`, `--initial-advertise-peer-urls=${peerUrl}`, `--initial-cluster=default=${peerUrl}`,
    '--unsafe-no-fsync=true', '--log-level=warn',
  ]);
  await waitUntil(etcd, async () => (await fetch(`${etcdUrl}/health`)).ok, 'etcd /health');

  const server = `https://127.0.0.1:${apiPort}`;
  const apiserver = procs.spawn('kube-apiserver', join(binDir, 'kube-apiserver'), [
    `--etcd-servers=${etcdUrl}`, '--bind-address=127.0.0.1', `--advertise-address=${NODE_IP}`, `--secure-port=${apiPort}`,
    `--tls-cert-file=${pki.servingCert}`, `--tls-private-key-file=${pki.servingKey}`, `--client-ca-file=${pki.caCert}`,
    `--token-auth-file=${join(p.pki, 'tokens.csv')}`, '--anonymous-auth=false', '--authorization-mode=Node,RBAC',
    `--service-account-issuer=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`, `--service-account-key-file=${pki.saPublicKey}`,
    `--service-account-signing-key-file=${pki.saPrivateKey}`, `--api-audiences=https://kubernetes.default.svc.${CLUSTER_DOMAIN}`,
    `--service-cluster-ip-range=${SERVICE_CIDR}`, '--allow-privileged=true', '--profiling=false',
    '--enable-admission-plugins=NodeRestriction,OwnerReferencesPermissionEnforcement',
    `--kubelet-client-certificate=${kubeletClientCert}`, `--kubelet-client-key=${kubeletClientKey}`,
    '--kubelet-preferred-address-types=InternalIP',
    '--endpoint-reconciler-type=lease',
  ]);
  await waitUntil(apiserver, () => readyz(server, pki.caCertPem, admin.token), 'kube-apiserver /readyz');

  const kubeconfigFor = (name: string, user: TokenUser) => {
    const path = join(p.pki, `${name}.kubeconfig`);
    writeKubeconfig(path, server, pki.caCertPem, user);
    return path;
  };
  writeKubeconfig(p.kubeconfig, server, pki.caCertPem, admin);

  const controllerManager = procs.spawn('kube-controller-manager', join(binDir, 'kube-controller-manager'), [
    `--kubeconfig=${kubeconfigFor('kcm', kcm)}`, '--leader-elect=false', '--bind-address=127.0.0.1', '--secure-port=0',
    '--controllers=*', `--service-account-private-key-file=${pki.saPrivateKey}`, `--root-ca-file=${pki.caCert}`,
    '--use-service-account-credentials=true', '--profiling=false',
    `--cluster-cidr=${POD_CIDR}`, `--service-cluster-ip-range=${SERVICE_CIDR}`,
  ]);
  const schedulerChild = procs.spawn('kube-scheduler', join(nodeBinDir, 'kube-scheduler'), [
    `--kubeconfig=${kubeconfigFor('scheduler', scheduler)}`,
    `--authentication-kubeconfig=${kubeconfigFor('scheduler-authn', scheduler)}`,
    `--authorization-kubeconfig=${kubeconfigFor('scheduler-authz', scheduler)}`,
    '--leader-elect=false', '--bind-address=127.0.0.1', `--secure-port=${await freePort()}`, '--profiling=false',
  ]);
  // Pods reach the API server at the `kubernetes` Service, whose endpoint is NODE_IP:apiPort.
  const relay = procs.spawn('apiserver-relay', 'socat',
    [`TCP-LISTEN:${apiPort},bind=${NODE_IP},reuseaddr,fork`, `TCP:127.0.0.1:${apiPort}`]);
  return {
    server, apiPort, pki, admin,
    kubeletKubeconfig: kubeconfigFor('kubelet', kubelet),
    proxyKubeconfig: kubeconfigFor('kube-proxy', proxy),
    children: [etcd, apiserver, controllerManager, schedulerChild, relay],
  };
}
