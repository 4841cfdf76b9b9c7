#!/usr/bin/env bash
# Recommended settings x each predictor, same setup as bench/sim.ts (180 s, budget 16, 1 GPU/replica).
cd "$(dirname "$0")/.."
run() { # trace ttft itl extra
  local trace=$1 ttft=$2 itl=$3; shift 3
  for pred in constant arima kalman prophet; do
    cfg=$(printf '{"environment":"virtual","mode":"disagg","prefill_engine_num_gpu":1,"decode_engine_num_gpu":1,"ttft":%s,"itl":%s,"throughput_adjustment_interval":180,"max_gpu_budget":16,"min_endpoint":1,"load_predictor":"%s","prefill_sizing":"queueing","num_req_source":"started","scale_down_window":3,"profile_results_dir":"config/profile"}' $ttft $itl $pred)
    node dist/src/cli.js simulate --config "$cfg" --profile-dir config/profile --trace ../shared/traces/$trace "$@" 2>/dev/null \
      | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);console.log(process.argv[1]+" | "+process.argv[2]+" | "+(j.sla_attainment*100).toFixed(2)+"% | "+j.gpu_hours.toFixed(2))})' "$trace $*" $pred
  done
}
run azure2023_code_1h.jsonl 300 20
run servegen_mmid_day4_24h_recon.jsonl.gz 200 20
run servegen_msmall_day1_24h_recon.jsonl.gz 200 20
run azure2023_code_1h.jsonl 300 20 --load-scale 8
