# Sourced by tools/k8s-bins.sh and tools/cluster-bins.sh: the Go build environment they share and
# the wrapper module that builds Kubernetes commands at one version.
#
# Why a wrapper module: k8s.io/kubernetes carries `replace` directives, so `go install pkg@version`
# refuses it. A throwaway module requires it instead, with every staging module (required as
# v0.0.0) replaced by its published tag v0.<minor>.<patch>.

# go_env NAME CACHE: Go on PATH, module and build caches under CACHE/go, a static build, no VCS
# stamping; `log` prefixed with NAME and the seconds since this call.
go_env() {
  tool=$1
  command -v go >/dev/null || [ ! -x /usr/local/go/bin/go ] || PATH=/usr/local/go/bin:$PATH
  command -v go >/dev/null || { echo "$tool: Go ≥ 1.26 is required" >&2; exit 1; }
  mkdir -p "$2/go/mod" "$2/go/build"
  export GOMODCACHE=$2/go/mod GOCACHE=$2/go/build
  export GOFLAGS="-mod=mod -buildvcs=false" CGO_ENABLED=0 GOTOOLCHAIN=local
  export GOPROXY=${GOPROXY:-https://proxy.golang.org,direct}
  started=$SECONDS
}
log() { echo "$tool: $* ($((SECONDS - started)) s)" >&2; }

# k8s_module DIR VERSION CMD...: makes DIR the wrapper module of k8s.io/kubernetes@vVERSION with
# k8s.io/kubernetes/cmd/CMD resolved, and sets K8S_LDFLAGS to what hack/lib/version.sh stamps
# (without it --version prints v0.0.0-master and kubectl's version-skew logic misbehaves).
# Build with: go build -trimpath -tags selinux,notest -ldflags "$K8S_LDFLAGS" k8s.io/kubernetes/cmd/CMD…
k8s_module() {
  local dir=$1 version=$2 minor staging gomod m p c pkgs=()
  shift 2
  for c in "$@"; do pkgs+=("k8s.io/kubernetes/cmd/$c@v$version"); done
  minor=${version#*.}; minor=${minor%%.*}
  staging=v0.${version#1.}
  mkdir "$dir" && cd "$dir"
  go mod init local/floodgate-k8sbins >/dev/null 2>&1
  gomod=$(go mod download -json "k8s.io/kubernetes@v$version" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  [ -f "$gomod" ] || { echo "$tool: cannot fetch k8s.io/kubernetes@v$version" >&2; exit 1; }
  for m in $(sed -n 's/^[[:space:]]*\(k8s\.io\/[^ ]*\) v0\.0\.0$/\1/p' "$gomod"); do
    go mod edit -replace="$m=$m@$staging"
  done
  log "resolving k8s.io/kubernetes@v$version"
  go get "${pkgs[@]}" >&2
  K8S_LDFLAGS="-s -w"
  for p in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    K8S_LDFLAGS+=" -X $p.gitVersion=v$version -X $p.gitMajor=1 -X $p.gitMinor=$minor"
    K8S_LDFLAGS+=" -X $p.gitTreeState=clean -X $p.buildDate=1970-01-01T00:00:00Z"
  done
}
