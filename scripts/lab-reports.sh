#!/usr/bin/env bash
# scripts/lab-reports.sh SET...: regenerates the lab's full reports in docs/,
# 5 seeds each (the lab's default without --quick), then docs/claims.md from
# the claims.md of every report that has one. SET is one of:
#   first        convergence, lr-sweep, batch-size, eval-bug   -> docs/lab
#   why-bn       landscape, ics, noisy-bn, ghost, dropout,
#                scale-invariance                              -> docs/lab/why-bn
#   design       resnet, placement-and-bias, rmsnorm           -> docs/lab/design
#   transformer  pre-post-norm, transformer-norms, qk-norm     -> docs/lab/transformer
#   sync         sync (4 ranks of mpirun)                      -> docs/lab/sync
#   all          every set, in that order
# Each set is sized to run in the background of one working session on the
# project's 2-core machine (docs/lab.md gives the times). Needs build/normkit,
# or the binary named by NORMKIT_CLI: a copy outside build/ lets the build go
# on while a set runs.
set -euo pipefail
cd "$(dirname "$0")/.."
cli=${NORMKIT_CLI:-build/normkit}
[[ -x $cli ]] || { echo "scripts/lab-reports.sh: build normkit first ($cli is missing)" >&2; exit 2; }
(( $# > 0 )) || { awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 2; }
sets=("$@")
[[ ${sets[*]} == all ]] && sets=(first why-bn design transformer sync)
for set in "${sets[@]}"; do
  case "$set" in
    first) "$cli" lab convergence,lr-sweep,batch-size,eval-bug --out docs/lab ;;
    why-bn) "$cli" lab landscape,ics,noisy-bn,ghost,dropout,scale-invariance --out docs/lab/why-bn ;;
    design) "$cli" lab resnet,placement-and-bias,rmsnorm --out docs/lab/design ;;
    transformer) "$cli" lab pre-post-norm,transformer-norms,qk-norm --out docs/lab/transformer ;;
    sync) "$cli" lab sync --out docs/lab/sync ;;
    *) echo "scripts/lab-reports.sh: unknown set '$set' (expected first, why-bn, design, transformer, sync or all)" >&2
       exit 2 ;;
  esac
done
# The claims page from every report that has a claims list (reports written
# before --seeds have none).
reports=()
for dir in docs/lab docs/lab/why-bn docs/lab/design docs/lab/transformer docs/lab/sync; do
  [[ -f $dir/claims.md ]] && reports+=("$dir")
done
/usr/bin/python3 scripts/claims-page.py "${reports[@]}" > docs/claims.md.new && mv docs/claims.md.new docs/claims.md
echo "docs/claims.md: the claims of ${reports[*]}"
