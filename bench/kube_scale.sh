#!/usr/bin/env bash
# Planning at scale on Kubernetes against envctl's in-memory API server (no cluster needed):
# 6 projects x 10 features x 18 services. Prints the report and keeps it in
# bench/results/kube-scale-<date>.json. Usage: bench/kube_scale.sh [--projects N --features M]
set -euo pipefail
cd "$(dirname "$0")/.."
out="bench/results/kube-scale-$(date -u +%Y-%m-%d).json"
cargo build --release --quiet --example kube_scale
report=$(target/release/examples/kube_scale "$@")
printf '%s\n' "$report" > "$out"
python3 - "$out" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{r['projects']} projects x {r['features']} features x {r['services_per_instance']} services "
      f"({r['objects_in_cluster']} objects in the cluster)")
print(f"{'round':<28}{'plans':>6}{'total s':>9}{'ms/plan p50':>13}{'max':>8}{'requests':>10}{'per plan':>10}{'writes':>8}{'dry-runs':>10}{'actions':>9}")
for x in r["rounds"]:
    per = ",".join(map(str, x["requests_per_plan"]))
    print(f"{x['name']:<28}{x['instances']:>6}{x['seconds_total']:>9.2f}{x['ms_per_plan_median']:>13.2f}"
          f"{x['ms_per_plan_max']:>8.2f}{x['requests_total']:>10}{per:>10}{x['writes']:>8}{x['dry_runs']:>10}{x['actions_total']:>9}")
print(f"kept in {sys.argv[1]}")
PY
