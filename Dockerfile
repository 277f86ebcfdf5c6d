# syntax=docker/dockerfile:1
# The Floodgate image for Docker users: `docker build -t ghcr.io/floodgate/floodgate:0.1.0 .`
# The build stage runs the same tools/image/floodgate.sh as `make image` (which needs no Docker), so
# both images hold the same files; the final stage repeats that script's image config, and
# e2e/image.test.ts fails when the two disagree (user, entrypoint, cmd, workdir, volumes, ports,
# labels, Node version, image version).
ARG NODE_VERSION=24.21.0
FROM node:${NODE_VERSION}-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends busybox-static binutils \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ARG REVISION=unknown
RUN FLOODGATE_CACHE=/cache FLOODGATE_REVISION=${REVISION} tools/image/floodgate.sh --rootfs /rootfs

# The cluster scenarios' application (e2e/kind/workflow.yml builds it with --target e2e-app): the
# image's files plus /e2e from tools/image/e2e-app.sh, as the local cluster test builds it.
FROM build AS e2e-layer
RUN FLOODGATE_CACHE=/cache tools/image/e2e-app.sh --layer /e2e-layer
FROM scratch AS e2e-app
COPY --from=build /rootfs/ /
COPY --from=e2e-layer /e2e-layer/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
USER 65532:65532
WORKDIR /e2e
ENTRYPOINT ["/usr/local/bin/node", "/e2e/apps/s3-app.ts"]

# The image (keep this stage last: `docker build` without --target builds it).
FROM scratch AS floodgate
ARG VERSION=0.1.0
ARG REVISION=unknown
COPY --from=build /rootfs/ /
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ENV MALLOC_MMAP_THRESHOLD_=131072
USER 65532:65532
WORKDIR /var/lib/floodgate
VOLUME ["/tmp", "/var/lib/floodgate"]
EXPOSE 8080/tcp 9000/tcp
LABEL org.opencontainers.image.title=floodgate \
      org.opencontainers.image.version=${VERSION} \
      org.opencontainers.image.source=https://github.com/floodgate/floodgate \
      org.opencontainers.image.revision=${REVISION}
# The node flags and the malloc setting of bin/floodgate (why: there).
ENTRYPOINT ["/usr/local/bin/node", "--max-semi-space-size=8", "--heap-growing-percent=50", "/app/main.ts"]
CMD ["--help"]
