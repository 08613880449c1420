# syntax=docker/dockerfile:1
# remediation-orchestrator: the Temporal worker (default command), the Alertmanager intake and the
# `remediate` CLI, all prebuilt (scripts/build.mjs): nothing compiles or bundles at start.
#   docker build --build-arg REMEDIATE_COMMIT=$(git describe --always --dirty) -t remediation-orchestrator .
#   docker run … remediation-orchestrator                            # worker
#   docker run … remediation-orchestrator node dist/intake/main.js   # intake (port 9095)
#   docker run … remediation-orchestrator remediate status ID        # CLI
#
# Node 24, the current LTS (Node 22 is supported too; Node 20 reached end of life in April 2026).
# Debian slim (glibc), not Alpine: @temporalio/core-bridge ships prebuilt glibc binaries only.
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# ---- build: every dependency (esbuild, TypeScript, the SDK's webpack), then dist/: the CLI bundle,
# the worker and intake bundles, and the workflow code bundled ahead of time
FROM ${NODE_IMAGE} AS build
ARG REMEDIATE_COMMIT=
WORKDIR /app
COPY package.json package-lock.json ./
# No scripts yet: `prepare` builds, and the sources are not here yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN REMEDIATE_COMMIT="${REMEDIATE_COMMIT}" node scripts/build.mjs

# ---- deps: production dependencies only, so the runtime image carries no compiler, bundler or test
# tools (--ignore-scripts: `prepare` would build, and no runtime package needs an install script)
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
COPY --chown=root:root bin/remediate.js ./bin/
# Code is owned by root and only readable by the runtime user: a compromised process cannot
# rewrite it. The workflow bundle is prebuilt (dist/workflow-bundle.js), so the worker writes no
# code at start; the root filesystem can be mounted read-only.
# 10001 is numeric so `runAsNonRoot` can verify it without resolving names.
RUN ln -s /app/bin/remediate.js /usr/local/bin/remediate \
 && groupadd --system --gid 10001 remediation \
 && useradd --system --uid 10001 --gid remediation --home-dir /nonexistent --no-create-home remediation
USER 10001:10001
EXPOSE 9464 9095
# Exec form: node is PID 1 and receives SIGTERM itself, which starts the worker's graceful shutdown.
CMD ["node", "dist/worker.js"]
