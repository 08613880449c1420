# syntax=docker/dockerfile:1
# remediation-orchestrator: the Temporal worker (default command) and the Alertmanager intake.
#   docker build -t remediation-orchestrator .
#   docker run … remediation-orchestrator                            # worker
#   docker run … remediation-orchestrator node dist/intake/main.js   # intake (port 9095)
#
# Debian slim (glibc), not Alpine: @temporalio/core-bridge ships prebuilt glibc binaries only.
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: every dependency (TypeScript, type packages), compile src/ into dist/
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json

# ---- deps: production dependencies only, so the runtime image carries no compiler or test tools
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# ---- runtime
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=deps --chown=root:root /app/node_modules ./node_modules
COPY --from=build --chown=root:root /app/dist ./dist
COPY --chown=root:root package.json ./
# Code is owned by root and only readable by the runtime user: a compromised process cannot
# rewrite it. The worker bundles workflow code in a child process at start and writes the bundle
# under /tmp, so the root filesystem can be mounted read-only with an emptyDir on /tmp.
# 10001 is numeric so `runAsNonRoot` can verify it without resolving names.
RUN groupadd --system --gid 10001 remediation \
 && useradd --system --uid 10001 --gid remediation --home-dir /nonexistent --no-create-home remediation
USER 10001:10001
EXPOSE 9464 9095
# Exec form: node is PID 1 and receives SIGTERM itself, which starts the worker's graceful shutdown.
CMD ["node", "dist/worker.js"]
