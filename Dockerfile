# sla-planner: the planner service image (runs as a DynamoGraphDeployment service).
# Build: docker build -t sla-planner:0.1.0 .
# The base image is pinned by its multi-platform index digest (node:26.11.1-bookworm-slim, Node 26,
# the LTS line since October 2026), so a rebuild gets the same bytes until the digest is bumped on
# purpose: `docker buildx imagetools inspect node:26-bookworm-slim` prints the current one.
ARG NODE_IMAGE=node:26-bookworm-slim@sha256:86f07bc9c5dce4578cf37e5a418b7bfc7f817cda25cde66e2b66e95ed86c4567
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY bench ./bench
# npm ci runs `prepare`, which compiles TypeScript into dist/.
RUN npm ci --no-audit --no-fund

FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production
# A 1 MiB young generation keeps the idle daemon under 80 MB RSS (87 MB with the default); the
# planner allocates little per tick, so the extra scavenges cost nothing measurable.
ENV NODE_OPTIONS=--max-semi-space-size=1
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the compiled output comes from the build stage; no compiler in the runtime image.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY config ./config
RUN ln -s /app/dist/src/cli.js /usr/local/bin/sla-planner && chmod +x /app/dist/src/cli.js
# Non-root: the node image's unprivileged user.
USER node
# The planner's own /metrics, /healthz, /readyz (PLANNER_PROMETHEUS_PORT, set to 9085 by the Dynamo
# operator), on all interfaces so Prometheus and the kubelet reach the pod IP; `run --metrics-host
# 127.0.0.1` keeps them on the pod's loopback.
EXPOSE 9085
ENTRYPOINT ["sla-planner"]
CMD ["--help"]
