#!/usr/bin/env bash
# Installs the Debian packages the test cluster needs (tools/cluster-bins.sh builds the rest):
# containerd + runc (the container runtime), the CNI plugins (bridge, host-local, portmap,
# loopback), iptables + nftables + conntrack (kube-proxy; nft lists and removes the tables
# iptables-nft leaves at teardown), socat (the `kubernetes` Service relay), nfacct
# (to remove kube-proxy's accounting objects at teardown), busybox-static (test pods' image) and
# gcc + libc6-dev (the static pause binary of the sandbox image), and skopeo (the image tests
# read the archives `make image` writes with it, as users do).
# Idempotent: apt runs only when a package is missing. Needs root (the cluster itself does too);
# as another user it only reports what is missing and exits 0, so `make testdeps` still works
# where the cluster test will skip.
set -euo pipefail

pkgs=(containerd runc containernetworking-plugins iptables nftables conntrack socat nfacct busybox-static gcc libc6-dev skopeo)
missing=()
for p in "${pkgs[@]}"; do
  [ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" = "install ok installed" ] || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
if [ "$(id -u)" != 0 ]; then
  echo "cluster-pkgs.sh: not root, not installing: ${missing[*]} (the cluster test will skip)" >&2
  exit 0
fi
command -v apt-get >/dev/null || { echo "cluster-pkgs.sh: apt-get not found; install ${missing[*]}" >&2; exit 1; }
echo "cluster-pkgs.sh: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# --no-install-recommends: no init-system integration or extra tools are wanted; the harness
# starts containerd itself with a private config.
apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
