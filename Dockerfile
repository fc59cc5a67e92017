# syntax=docker/dockerfile:1
#
# fhir-risk image: Node 20 LTS, production dependencies only, the TypeScript compiled to dist/
# (`npm run build`) and run with plain node, non-root uid 10001. Build:   docker build -t fhir-risk:0.1.0 .
# Run one role:  docker run fhir-risk:0.1.0 serve   (default command: start = API + workers)

ARG NODE_IMAGE=node:20-bookworm-slim

# ---- deps: production node_modules, without dev tools and without foreign native binaries ----
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
# onnxruntime-node's install step downloads CUDA/TensorRT files we never use; its CPU binaries
# ship inside the npm tarball. .npmrc says the same (onnxruntime-node-install=skip).
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
# --omit=dev is the prune: tsx is a dependency, so it stays. The onnxruntime-node tarball carries
# macOS and Windows binaries (about 220 MB) that a Linux image never loads.
RUN npm ci --omit=dev --no-audit --no-fund \
 && rm -rf node_modules/onnxruntime-node/bin/napi-v*/darwin node_modules/onnxruntime-node/bin/napi-v*/win32 \
 && npm cache clean --force

# ---- build: dist/ from src/ (tsc needs the dev dependencies; none of them reach the runtime) ----
FROM ${NODE_IMAGE} AS build
WORKDIR /app
ENV ONNXRUNTIME_NODE_INSTALL=skip
COPY package.json package-lock.json .npmrc ./
RUN npm ci --no-audit --no-fund --ignore-scripts
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
# --max-old-space-size: V8 otherwise grows its heap lazily to hundreds of MiB under a burst on a
# big node (measured: 312 MiB peak RSS, 49 MiB of heap in use). The live set is about 50 MiB and
# start-up (indexing the validation definitions) fits in 128 MiB; with this cap the e2e bench
# peaked at 196 MiB with the same throughput. Override NODE_OPTIONS for unusual workloads.
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    NODE_OPTIONS=--max-old-space-size=128 \
    PORT=8080
WORKDIR /app
RUN groupadd --gid 10001 fhir-risk \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fhir-risk
# Files stay owned by root: the service only reads them (the chart mounts / read-only).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY --from=build /app/dist ./dist
# src/ stays for `node --import tsx src/cli.ts ...` in a debugging shell; the service runs dist/.
COPY src ./src
COPY models ./models
COPY fhir-profiles ./fhir-profiles
# samples/ feeds `fhir-risk demo`; it carries its own LICENSES (Synthea data, keep with any copy).
COPY samples ./samples
USER 10001:10001
# Fail the build, not the rollout, when a model or the ONNX runtime is broken on this platform.
RUN node dist/cli.js models verify
EXPOSE 8080
# `start`, `serve` and `worker` all answer GET /healthz on PORT (workers serve /healthz, /readyz
# and /metrics only). /healthz never touches Redis, so a Redis outage does not mark the container
# unhealthy. Kubernetes ignores HEALTHCHECK and uses the chart's probes; this serves docker and
# compose. One-shot commands (assess, models verify, ...) exit before the first check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Compiled JavaScript, not tsx: about 40 MiB less RSS and no transpiling at start-up.
ENTRYPOINT ["node", "dist/cli.js"]
CMD ["start"]
