#!/usr/bin/env bash
# Whole-process overhead of the monitor presets vs bare training (docs/overhead.md).
# Usage: scripts/overhead-presets.sh MODEL "EPOCH_COUNTS" ROUNDS OUT_TSV [CONFIGS]
#   e.g. scripts/overhead-presets.sh mlp "1 4" 2 /tmp/overhead-mlp.tsv "bare economy business full"
# Each round runs every (epochs, config) once, configs in alternating order (ABBA over rounds), one ND4J
# thread (OMP_NUM_THREADS=1), no UI. Per process: wall seconds, user+sys CPU seconds, peak RSS (KB) from
# /usr/bin/time, and the "Seconds per epoch" line the sample prints. At the end scripts/overhead-summary.py
# prints every ratio per round and the medians over rounds. JAR=... points at a copy of the sample jar
# (with its lib/ beside it) so that a rebuild does not pull it away; JAVA_OPTS are passed to java (e.g.
# -Dstethoscope.cpuAccounting=true for the per-monitor CPU table in each log); KEEP_LOGS=DIR keeps the logs.
# Also recorded: the training thread's CPU seconds of each epoch (in-process, ThreadMXBean) and the JVM's
# summed collection pauses; the summary gives the training thread's CPU per epoch (epochs 2.. of the longest
# run, so JIT warm-up is left out) over bare's. EXTRA="--train-limit 10000" adds flags to every train command.
set -euo pipefail
model=$1; epochs_list=$2; rounds=$3; out=$4; configs=${5:-"bare economy business full"}
jar=${JAR:-sample-training/target/stethoscope-sample.jar}
work=$(mktemp -d /tmp/overhead-XXXX)
echo -e "round\tmodel\tepochs\tconfig\twall_s\tcpu_s\tpeak_rss_kb\tin_process_epoch_s\ttrain_thread_cpu_epoch_s\tgc_pause_s" >> "$out"
read -r -a cfgs <<< "$configs"
for ((r = 1; r <= rounds; r++)); do
  order=("${cfgs[@]}")
  if (( r % 2 == 0 )); then  # reverse the order every other round
    order=(); for ((i = ${#cfgs[@]} - 1; i >= 0; i--)); do order+=("${cfgs[$i]}"); done
  fi
  for e in $epochs_list; do
    for c in "${order[@]}"; do
      if [[ $c == bare ]]; then flags=(--no-monitors); else flags=(--preset "$c"); fi
      log=$work/$model-$e-$c-$r.log
      /usr/bin/time -f "TIME %e %U %S %M" -o "$log.time" env OMP_NUM_THREADS=1 java ${JAVA_OPTS:-} -jar "$jar" train --model "$model" \
        --epochs "$e" --no-ui --exit-when-done --force --out "$work/run" ${EXTRA:-} "${flags[@]}" > "$log" 2>&1
      read -r _ wall user sys rss < "$log.time"
      cpu=$(echo "$user + $sys" | bc)
      per=$(grep -o 'Seconds per epoch: .*' "$log" | sed 's/Seconds per epoch: //' | tr -d ' ' || true)
      tcpu=$(grep -o 'Training-thread CPU seconds per epoch: .*' "$log" | sed 's/.*: //' | tr -d ' ' || true)
      # stop-the-world time of every JVM collection (young and full), summed
      gcp=$(grep -m1 '^JVM collections:' "$log" | grep -o '([0-9.]* s)' | tr -d '(s )' | paste -sd+ | bc || true)
      echo -e "$r\t$model\t$e\t$c\t$wall\t$cpu\t$rss\t$per\t$tcpu\t$gcp" | tee -a "$out"
      [[ -n ${KEEP_LOGS:-} ]] && cp "$log" "$KEEP_LOGS/" || true
    done
  done
done
rm -rf "$work"
# ratios per round and their medians (config over bare in the same round; per epoch from two epoch counts)
python3 "$(dirname "$0")/overhead-summary.py" "$out"
