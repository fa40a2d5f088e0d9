#!/bin/bash
# alternate cyclegan / xai-cyclegan short runs, CPU time and per-step wall from the log
B=${CYCLEX:-cyclex}; DATA=${1:?usage: step_time_ratio.sh DATA_DIR}
for rep in 1 2; do for m in cyclegan xai-cyclegan; do
  rm -rf ${TMPDIR:-/tmp}/cyclex-probe/$m
  /usr/bin/time -f "$m rep$rep user %U sys %S wall %e" env OPENBLAS_NUM_THREADS=1 nice -n 10 $B train $DATA --model $m --name $m --output ${TMPDIR:-/tmp}/cyclex-probe --max-steps 45 --sample-every 0 --snapshot-every 0 >/dev/null 2>/tmp/probe.err; tail -1 /tmp/probe.err
  python3 -c "
import json
t=[json.loads(l) for l in open('${TMPDIR:-/tmp}/cyclex-probe/$m/log.jsonl') if '\"step\"' in l]
t=[x for x in t if 'time' in x and x.get('event') is None]
a=[x for x in t if x['step']==5][0]['time']; b=[x for x in t if x['step']==45][0]['time']
print('$m rep$rep wall/step(5..45) %.3f'%((b-a)/40))"
done; done
