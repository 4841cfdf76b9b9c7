# sla-planner: the planner service image (runs as a DynamoGraphDeployment service).
# Build: docker build -t sla-planner:0.1.0 .
FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json ./
COPY src ./src
COPY bench ./bench
# npm ci runs `prepare`, which compiles TypeScript into dist/.
RUN npm ci --no-audit --no-fund

FROM node:22-bookworm-slim AS runtime
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
# The planner's own /metrics (PLANNER_PROMETHEUS_PORT, set to 9085 by the Dynamo operator).
EXPOSE 9085
ENTRYPOINT ["sla-planner"]
CMD ["--help"]
