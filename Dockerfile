# syntax=docker/dockerfile:1
#
# Raftgate's container image, the one the Helm chart runs by default
# (helm/raftgate: image.repository raftgate, tag = the chart's appVersion,
# which is package.json's version):
#
#   docker build -t raftgate:0.1.0 .
#   docker tag raftgate:0.1.0 registry.example.com/raftgate:0.1.0   # then push it
#   docker run --rm raftgate:0.1.0 core --help
#
# Three stages: `build` compiles the TypeScript with every dependency,
# `prod-deps` installs production dependencies only, and the runtime stage
# takes node_modules from one and dist/ from the other, plus bin/ and
# package.json, and nothing else: no compiler, no tests, no sources.
# It runs as uid/gid 10001, the chart's podSecurityContext.runAsUser/Group.

ARG NODE_IMAGE=node:20-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json ./
# --ignore-scripts: the `prepare` script would build before the sources are
# copied; the native msgpack extension ships prebuilt, nothing compiles.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY cli ./cli
COPY config ./config
COPY core-server ./core-server
COPY proxy ./proxy
COPY bench ./bench
RUN npm run build

FROM ${NODE_IMAGE} AS prod-deps
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
WORKDIR /app
# A fixed non-root user, so files on a data volume keep one owner across
# image versions; the chart's fsGroup makes the volume writable for it.
RUN groupadd --system --gid 10001 raftgate \
 && useradd --system --uid 10001 --gid raftgate --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin raftgate \
 && mkdir -p /var/lib/raftgate \
 && chown raftgate:raftgate /var/lib/raftgate
# Everything under /app stays owned by root: the process cannot rewrite its own code.
COPY --from=prod-deps /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
COPY package.json ./
COPY bin ./bin
RUN chmod 0755 /app/bin/raftgate.js && ln -s /app/bin/raftgate.js /usr/local/bin/raftgate
USER 10001:10001
# 2379 client API, 2380 Raft peers, 2381 native protocol (proxies to core).
EXPOSE 2379 2380 2381
# Node runs as PID 1; `raftgate core` and `raftgate proxy` handle SIGTERM
# themselves and spawn no children, so no init process is needed.
ENTRYPOINT ["node", "/app/bin/raftgate.js"]
CMD ["--help"]
