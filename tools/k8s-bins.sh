#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against — etcd, kube-apiserver,
# kube-controller-manager, kubectl — and helm, from the Go module proxy, into
#   $FLOODGATE_CACHE/k8s-v<k8s>-etcd<etcd>-helm<helm>/bin
# and prints that directory as the last line of stdout, so `bin=$(tools/k8s-bins.sh)` works.
# Idempotent: when the pinned binaries are there it only prints the directory.
#
# Why wrapper modules: k8s.io/kubernetes and etcd's server module carry `replace` directives, so
# `go install pkg@version` refuses them; a throwaway module requires them instead (for Kubernetes:
# tools/lib/k8s-module.sh).
set -euo pipefail

K8S_VERSION=${K8S_VERSION:-1.36.3}    # etcd client 3.6.x in its go.mod; builds with Go 1.26
ETCD_VERSION=${ETCD_VERSION:-3.6.16}
HELM_VERSION=${HELM_VERSION:-3.22.0}
# Bump when the build recipe changes, so cached bin dirs built the old way are rebuilt.
RECIPE=2

cache=${FLOODGATE_CACHE:-$HOME/.cache/floodgate}
out=$cache/k8s-v$K8S_VERSION-etcd$ETCD_VERSION-helm$HELM_VERSION
bin=$out/bin
bins=(etcd kube-apiserver kube-controller-manager kubectl helm)

complete() { [ "$(cat "$bin/.complete" 2>/dev/null)" = "$RECIPE" ] && for b in "${bins[@]}"; do [ -x "$bin/$b" ] || return 1; done; }
if complete; then echo "$bin"; exit 0; fi

here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib/k8s-module.sh"
go_env k8s-bins.sh "$cache"
mkdir -p "$out"

# One build at a time per cache (several test files may ask at once); the winner builds, the
# others wait and then find the binaries.
exec 9>"$out/.lock"
flock 9
if complete; then echo "$bin"; exit 0; fi

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

# --- kube-apiserver, kube-controller-manager, kubectl (one module graph, one go build) ---
k8s_module "$work/k8s" "$K8S_VERSION" kube-apiserver
log "building kube-apiserver, kube-controller-manager, kubectl (the long part)"
go build -trimpath -tags selinux,notest -ldflags "$K8S_LDFLAGS" -o "$work/bin/" \
  k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
  k8s.io/kubernetes/cmd/kubectl

# --- etcd (its own module graph: no replaces needed, its requires pin the siblings) ---
mkdir "$work/etcd" && cd "$work/etcd"
go mod init local/floodgate-etcdbin >/dev/null 2>&1
log "building etcd v$ETCD_VERSION"
go get "go.etcd.io/etcd/server/v3@v$ETCD_VERSION" >&2
go build -trimpath -ldflags "-s -w" -o "$work/bin/etcd" go.etcd.io/etcd/server/v3

# --- helm (no replaces: go install works) ---
# Like helm's Makefile, stamp the version and the Kubernetes minor of its client libraries: the
# latter is what `helm template` assumes the cluster runs (the unstamped default is 1.20, which a
# chart's `kubeVersion: >=1.29` refuses).
helmmod=$(go mod download -json "helm.sh/helm/v3@v$HELM_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
# (sed stops at the first match itself: `| head -1` under pipefail fails when sed is still writing)
helmk8s=$(sed -n '/^[[:space:]]*k8s\.io\/client-go v0\./{s/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p;q}' "$helmmod")
[ -n "$helmk8s" ] || { echo "k8s-bins.sh: no k8s.io/client-go in helm's go.mod" >&2; exit 1; }
log "building helm v$HELM_VERSION (Kubernetes 1.$helmk8s libraries)"
hl="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  hl+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$helmk8s"
done
GOBIN=$work/bin go install -trimpath -ldflags "$hl" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"

"$work/bin/kube-apiserver" --version >&2
# The first line only, read to the end: `| head -1` made etcd die of SIGPIPE now and then, and
# pipefail turned that into a failed build after the 30-minute compile.
"$work/bin/etcd" --version | sed -n 1p >&2
"$work/bin/helm" version --short >&2

mkdir -p "$bin"
for b in "${bins[@]}"; do mv -f "$work/bin/$b" "$bin/$b"; done
echo "$RECIPE" >"$bin/.complete"
log "done"
echo "$bin"
