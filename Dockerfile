# syntax=docker/dockerfile:1
# vidispine-auth-proxy image: build with dev dependencies; run the bundled CLI (dist/cli.js and
# dist/vendor/, which hold every dependency it runs) on Node.js alone, with no node_modules.
#   docker build -t vidispine-auth-proxy:0.1.0 --build-arg VERSION=0.1.0 --build-arg REVISION=$(git rev-parse HEAD) .
# The result holds node, the shared libraries it loads and the app, with the licences of
# node, the app and the packages bundled in it (/usr/local/LICENSE, /app/LICENSE,
# /app/THIRD_PARTY_NOTICES), and nothing else of the
# base image (no npm, npx, corepack or yarn, no shell, no Debian tools); it runs as a numeric
# non-root user, writes nothing to its filesystem (so `readOnlyRootFilesystem: true` works)
# and has no shell-form entrypoint: PID 1 is node, which receives SIGTERM directly and
# drains as described in the README.

ARG NODE_IMAGE=node:24-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the package's `prepare` script builds, and the sources are not here yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs scripts/notices.mjs ./scripts/
COPY src ./src
RUN npm run build

# What runs: the bundle, its lazily loaded vendor files and their source maps (for
# `node --enable-source-maps`); package.json for the version; and the licence at the
# package's root, where npm puts it, as Apache-2.0 asks of whoever passes the image on,
# beside the notices of the packages bundled with it (the build writes them, and stops on a
# licence that is not a permissive one), whose licences ask the same.
FROM scratch AS app
COPY --from=build /app/dist/cli.js /app/dist/cli.js.map /app/dist/
COPY --from=build /app/dist/vendor /app/dist/vendor
COPY --from=build /app/dist/THIRD_PARTY_NOTICES /app/
COPY package.json LICENSE /app/

# V8's code cache of the bundle, written by the uid the container runs as (Node.js files the
# cache under the uid) against the same paths as the final image; read, never written, at run
# time on a read-only root filesystem. It holds the bundle's top-level code (its modules are
# compiled when first used), and a start then spends about a quarter less CPU until ready
# (163 → 121 ms in the benchmark); run as another uid, the proxy compiles as without it.
FROM ${NODE_IMAGE} AS compile-cache
COPY --from=app /app /app
RUN mkdir /compile-cache && chown 65532:65532 /compile-cache
USER 65532:65532
RUN NODE_COMPILE_CACHE=/compile-cache node /app/dist/cli.js --version

# What the proxy runs on, gathered from the base image: node and its licence (the Node.js
# release's LICENSE, which the base image unpacks with node into /usr/local, and which also
# holds the licences of what node is built from), the shared libraries it links
# (at the paths its loader looks in; /lib and /lib64 stay the links merged /usr makes them),
# nsswitch.conf (so /etc/hosts, and Kubernetes' hostAliases, answers before DNS), and an
# /etc/passwd and /etc/group naming uid and gid 65532. Node verifies TLS against the CA
# store built into it, plus vidispine.caFile or NODE_EXTRA_CA_CERTS when set, and keeps its
# own time zone data: neither the base image's certificates nor its tzdata are needed.
# node is started once in the gathered tree, so a library left out fails the build.
FROM ${NODE_IMAGE} AS runtime
RUN set -eu; \
    mkdir -p /runtime/usr/local/bin /runtime/etc; \
    cp -a /usr/local/bin/node /runtime/usr/local/bin/; \
    cp -a /usr/local/LICENSE /runtime/usr/local/; \
    for dir in /lib /lib32 /lib64 /libx32; do \
      if [ -L "$dir" ]; then cp -a "$dir" /runtime/; fi; \
    done; \
    for lib in $(ldd /usr/local/bin/node | grep -o '/[^ ]*'); do \
      link="$(readlink -f "$(dirname "$lib")")/$(basename "$lib")"; \
      cp -a --parents "$link" /runtime/; \
      if [ -L "$link" ]; then cp -a --parents "$(readlink -f "$link")" /runtime/; fi; \
    done; \
    cp -a /etc/nsswitch.conf /runtime/etc/; \
    printf '%s\n' 'root:x:0:0:root:/root:/sbin/nologin' \
      'nonroot:x:65532:65532:nonroot:/nonexistent:/sbin/nologin' >/runtime/etc/passwd; \
    printf '%s\n' 'root:x:0:' 'nonroot:x:65532:' >/runtime/etc/group; \
    chroot /runtime node --version

FROM scratch
ARG NODE_IMAGE
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="vidispine-auth-proxy" \
      org.opencontainers.image.description="Authenticating reverse proxy sidecar for the VidiCore (Vidispine) API" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="${NODE_IMAGE}"
COPY --from=runtime /runtime /
# Nothing of the base image's ENV (PATH, NODE_VERSION) comes with it: PATH lets the
# entrypoint, and `kubectl exec … node`, find node.
ENV PATH=/usr/local/bin NODE_ENV=production
# Two malloc arenas instead of glibc's up to 8 per core: under Node.js 24 the arenas of V8's
# worker threads kept what a burst of load had freed. 30 s at rest after small GETs at 32
# and 256 connections and a 1 GiB download and upload, five rounds side by side: 106.6 MiB
# (90.1–111.8) against 118.6 (115.1–184.2), every round below every round without it; CPU
# per request and per GiB the same within the spread (bench/README.md, "Malloc arenas
# under Node.js 24").
ENV MALLOC_ARENA_MAX=2
WORKDIR /app
COPY --from=app /app ./
COPY --from=compile-cache --chown=65532:65532 /compile-cache ./.compile-cache
ENV NODE_COMPILE_CACHE=/app/.compile-cache
# 8080: data listener (the app's Vidispine endpoint; loopback by default, set PROXY_LISTEN
#       to [::]:8080 for a gateway). 9090: ops listener (/livez /startupz /readyz /metrics /status).
EXPOSE 8080 9090
USER 65532:65532
ENTRYPOINT ["node", "/app/dist/cli.js"]
CMD ["run"]
