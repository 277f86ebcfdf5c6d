#!/usr/bin/env bash
# Builds the real Kubernetes control plane the tests run against — etcd, kube-apiserver,
# kube-controller-manager, kubectl — and helm, from the Go module proxy, into
#   $FLOODGATE_CACHE/k8s-v<k8s>-etcd<etcd>-helm<helm>/bin
# and prints that directory as the last line of stdout, so `bin=$(tools/k8s-bins.sh)` works.
# Idempotent: when the pinned binaries are there it only prints the directory.
#
# Why wrapper modules: k8s.io/kubernetes and etcd's server module carry `replace` directives, so
# `go install pkg@version` refuses them. A throwaway module requires them instead; for Kubernetes
# every staging module (required as v0.0.0) is replaced by its published tag v0.<minor>.<patch>.
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

command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH=/usr/local/go/bin:$PATH
command -v go >/dev/null || { echo "k8s-bins.sh: Go ≥ 1.26 is required" >&2; exit 1; }
mkdir -p "$out" "$cache/go/mod" "$cache/go/build"

# One build at a time per cache (several test files may ask at once); the winner builds, the
# others wait and then find the binaries.
exec 9>"$out/.lock"
flock 9
if complete; then echo "$bin"; exit 0; fi

export GOMODCACHE=$cache/go/mod GOCACHE=$cache/go/build
export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
minor=${K8S_VERSION#*.}; minor=${minor%%.*}
staging=v0.${K8S_VERSION#1.}
started=$SECONDS
log() { echo "k8s-bins.sh: $* ($((SECONDS - started)) s)" >&2; }

work=$(mktemp -d "$out/.build.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"

# --- kube-apiserver, kube-controller-manager, kubectl (one module graph, one go build) ---
mkdir "$work/k8s" && cd "$work/k8s"
go mod init local/floodgate-k8sbins >/dev/null 2>&1
gomod=$(go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
[ -f "$gomod" ] || { echo "k8s-bins.sh: cannot fetch k8s.io/kubernetes@v$K8S_VERSION" >&2; exit 1; }
for m in $(sed -n 's/^[[:space:]]*\(k8s\.io\/[^ ]*\) v0\.0\.0$/\1/p' "$gomod"); do
  go mod edit -replace="$m=$m@$staging"
done
log "resolving k8s.io/kubernetes@v$K8S_VERSION"
go get "k8s.io/kubernetes/cmd/kube-apiserver@v$K8S_VERSION" >&2
# What hack/lib/version.sh stamps: without it --version prints v0.0.0-master and kubectl's
# version-skew logic misbehaves.
ldflags="-s -w"
for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  ldflags+=" -X $p.gitVersion=v$K8S_VERSION -X $p.gitMajor=1 -X $p.gitMinor=$minor"
  ldflags+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
done
log "building kube-apiserver, kube-controller-manager, kubectl (the long part)"
go build -trimpath -tags selinux,notest -ldflags "$ldflags" -o "$work/bin/" \
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
helmk8s=$(sed -n 's/^[[:space:]]*k8s\.io\/client-go v0\.\([0-9]*\)\..*/\1/p' "$helmmod" | head -1)
[ -n "$helmk8s" ] || { echo "k8s-bins.sh: no k8s.io/client-go in helm's go.mod" >&2; exit 1; }
log "building helm v$HELM_VERSION (Kubernetes 1.$helmk8s libraries)"
hl="-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION -X helm.sh/helm/v3/internal/version.gitTreeState=clean"
for p in helm.sh/helm/v3/pkg/lint/rules helm.sh/helm/v3/pkg/chartutil; do
  hl+=" -X $p.k8sVersionMajor=1 -X $p.k8sVersionMinor=$helmk8s"
done
GOBIN=$work/bin go install -trimpath -ldflags "$hl" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"

"$work/bin/kube-apiserver" --version >&2
"$work/bin/etcd" --version | head -1 >&2
"$work/bin/helm" version --short >&2

mkdir -p "$bin"
for b in "${bins[@]}"; do mv -f "$work/bin/$b" "$bin/$b"; done
echo "$RECIPE" >"$bin/.complete"
log "done"
echo "$bin"
