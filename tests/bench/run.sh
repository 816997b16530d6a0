#!/usr/bin/env bash
# The ingest benchmark: generate fictional reports (tests/tools/gen_reports.py, deterministic),
# then feed them through the hub's ingest path into a fresh PostgreSQL database with a raw COPY
# baseline measured in the same run (tests/bench/bench_ingest.c says what is measured).
#
#   tests/bench/run.sh                      100,000 records, about 30,000 violators (quick)
#   tests/bench/run.sh --records 1000000    the full run: 1,000,000 records, 300,000 violators
#
# Options: --records N, --violators N (default 30% of N), --seed N, --batch N, --hot N (records
# of one growing entity after the main run, default 1000; 0: none), --build DIR (default
# build), --bench PATH (the bench_ingest binary), --out DIR (data cache and results; default
# DIR/tests/bench). Arguments after -- go to bench_ingest. Needs HUB_PG_DSN, else the local
# services' (deploy/local/env.sh); exits 77 (skipped) without either.
# Output: the progress and summary lines, also kept in OUT/ingest-<records>-<time>.txt, and the
# plans of one early and one late batch in OUT/ingest-<records>-<time>.plans.txt.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
records=100000 violators= seed=399 batch=500 hot=1000 build=$root/build bench= out=
extra=()
while (($#)); do
        case $1 in
        --records) records=$2; shift 2 ;;
        --violators) violators=$2; shift 2 ;;
        --seed) seed=$2; shift 2 ;;
        --batch) batch=$2; shift 2 ;;
        --hot) hot=$2; shift 2 ;;
        --build) build=$2; shift 2 ;;
        --bench) bench=$2; shift 2 ;;
        --out) out=$2; shift 2 ;;
        --) shift; extra=("$@"); break ;;
        -h|--help) sed -n '2,16p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
        esac
done
violators=${violators:-$((records * 3 / 10))}
bench=${bench:-$build/tests/bench/bench_ingest}
out=${out:-$build/tests/bench}
[[ -x "$bench" ]] || { echo "run.sh: $bench not found: ninja -C $build first" >&2; exit 1; }

if [[ -z "${HUB_PG_DSN:-}" ]]; then
        if env=$("$root/deploy/local/env.sh" 2>/dev/null); then
                eval "$env"
        elif [[ "${HUB_REQUIRE_SERVICES:-0}" == 1 ]]; then
                echo "run.sh: HUB_PG_DSN is not set" >&2
                exit 1
        else
                echo "run.sh: HUB_PG_DSN is not set and no local services run: skipped" >&2
                exit 77
        fi
fi

# The generated reports are cached by their parameters: generating 1M takes about half a minute.
mkdir -p "$out/data"
data=$out/data/reports-$records-$violators-$seed.jsonl
if [[ ! -s "$data" ]]; then
        echo "generating $records reports about $violators violators into $data" >&2
        python3 "$root/tests/tools/gen_reports.py" --count "$records" --violators "$violators" \
                --seed "$seed" --shape report >"$data.tmp"
        mv "$data.tmp" "$data"
fi

stamp=$(date +%Y%m%dT%H%M%S)
result=$out/ingest-$records-$stamp.txt
plans=$out/ingest-$records-$stamp.plans.txt
echo "command: $bench --records $records --batch $batch --hot $hot --explain $plans" \
        "${extra[*]} $data" | tee "$result"
rc=0
"$bench" --records "$records" --batch "$batch" --hot "$hot" --explain "$plans" "${extra[@]}" \
        "$data" | tee -a "$result" || rc=$?
echo "results: $result; plans: $plans" >&2
exit "$rc"
