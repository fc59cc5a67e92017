# syntax=docker/dockerfile:1
#
# fhir-risk image: Node 20 LTS, production dependencies only, TypeScript run through tsx (a
# runtime dependency), non-root uid 10001. Build:   docker build -t fhir-risk:0.1.0 .
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

# ---- runtime ----
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ONNXRUNTIME_NODE_INSTALL=skip \
    PORT=8080
WORKDIR /app
RUN groupadd --gid 10001 fhir-risk \
 && useradd --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin fhir-risk
# Files stay owned by root: the service only reads them (the chart mounts / read-only).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json tsconfig.json ./
COPY src ./src
COPY models ./models
COPY fhir-profiles ./fhir-profiles
# samples/ feeds `fhir-risk demo`; it carries its own LICENSES (Synthea data, keep with any copy).
COPY samples ./samples
USER 10001:10001
# Fail the build, not the rollout, when a model or the ONNX runtime is broken on this platform.
# tsx caches compiled files under /tmp/tsx-<uid>; drop that so the image stays reproducible.
RUN node --import tsx src/cli.ts models verify && rm -rf /tmp/tsx-*
EXPOSE 8080
# `start`, `serve` and `worker` all answer GET /healthz on PORT (workers serve /healthz, /readyz
# and /metrics only). /healthz never touches Redis, so a Redis outage does not mark the container
# unhealthy. Kubernetes ignores HEALTHCHECK and uses the chart's probes; this serves docker and
# compose. One-shot commands (assess, models verify, ...) exit before the first check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "--import", "tsx", "src/cli.ts"]
CMD ["start"]
