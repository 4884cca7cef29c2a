#!/usr/bin/env bash
# `npm run chart:lint`: helm lint and helm template for the raftgate chart,
# once with its defaults and once per ci/*.yaml values file (the files
# `ct lint` would use). Without a helm binary it says so and succeeds: the
# vitest suite in test/helm checks the chart statically either way.
set -euo pipefail
cd "$(dirname "$0")/raftgate"

if ! command -v helm >/dev/null 2>&1; then
  echo "chart-lint: helm is not installed; skipping helm lint and helm template (test/helm checks the chart without it)"
  exit 0
fi

helm version --short
# The monitoring CRDs are not installed here; tell helm they exist so the
# ServiceMonitor and PrometheusRule templates are rendered and checked too.
api_versions=(--api-versions monitoring.coreos.com/v1)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

failed=0
for values in values.yaml ci/*.yaml; do
  echo "== $values"
  args=()
  [ "$values" != values.yaml ] && args=(-f "$values")
  if ! helm lint --strict . "${args[@]}"; then
    echo "chart-lint: helm lint failed for $values"
    failed=1
  fi
  if ! helm template raftgate . --namespace raftgate "${api_versions[@]}" "${args[@]}" >"$out/rendered.yaml"; then
    echo "chart-lint: helm template failed for $values"
    failed=1
    continue
  fi
  echo "rendered $(grep -c '^kind:' "$out/rendered.yaml") objects"
done

# Values the schema must refuse: a misspelt key, an even member count, a mode that does not exist.
for bad in core.replicsa=3 core.replicas=4 proxy.mode=rw; do
  if helm template raftgate . --set "$bad" >/dev/null 2>&1; then
    echo "chart-lint: helm accepted --set $bad; values.schema.json should refuse it"
    failed=1
  else
    echo "refused as it should be: --set $bad"
  fi
done

exit $failed
