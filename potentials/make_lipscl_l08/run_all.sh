#!/usr/bin/env bash
# End-to-end rebuild of potentials/lipscl-l08-7net0.mtp, run from the repository root with
# the seimd venv active and the optional labeller installed:
#     pip install torch==2.13.0 && pip install sevenn==0.13.0
# Wall times measured on 2 shared cores are in potentials/README.md (about 35 min in all).
set -euo pipefail
D=potentials/make_lipscl_l08
T=$(mktemp -d)
export OMP_NUM_THREADS=1
rm -f $D/part-*.cfg $D/part-*.cfg.gz              # a full rerun replaces the committed set (--merge globs parts)

# 1. crystals, strains, rattles, 7net-0 MD (two processes, one thread each; ~7.5 min)
python $D/generate.py --groups A --threads 1 &
python $D/generate.py --groups B --threads 1 &
wait

# (--weighting structures: these fits predate the vibrations default; N^2 as they were run)
# 2. a first potential on A+B (only used to drive step 3; ~5 min)
python $D/generate.py --merge                      # train.cfg = part-A + part-B
seimd basis 8 --species 4 --min-dist 1.6 --max-dist 5.0 -o $T/u0.mtp
mpiexec -n 2 seimd train $T/u0.mtp $D/train.cfg -o $T/v0a.mtp --species-map Li,P,S,Cl \
  --holdout 0.1 --seed 0 --max-iter 3000 --weighting structures
mpiexec -n 2 seimd train $T/v0a.mtp $D/train.cfg -o $T/v0.mtp --species-map Li,P,S,Cl \
  --holdout 0.1 --seed 0 --max-iter 1500 --energy-weight 20 --stress-weight 0.01 --weighting structures

# 3. MD with that potential on interface cells, frames labelled by 7net-0 (part-AL1; ~1 min)
OMP_NUM_THREADS=2 python $D/active.py --mtp $T/v0.mtp --round 1
# 4. short Li-Li contacts (part-C; ~1 min): v0 collapsed Li-Li pairs in the Li slab
OMP_NUM_THREADS=2 python $D/generate.py --groups C --threads 2

# 5. the potential: fresh level-8 basis, min_dist 1.4 A (< 1.5 A, the shortest pair in the set)
python $D/generate.py --merge                      # train.cfg = A + AL1 + B + C
seimd basis 8 --species 4 --min-dist 1.4 --max-dist 5.0 -o $D/untrained.mtp
mpiexec -n 2 seimd train $D/untrained.mtp $D/train.cfg -o potentials/lipscl-l08-7net0.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 3000 \
  --energy-weight 20 --stress-weight 0.01 --weighting structures --report $D/train-report.json
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-7net0_trained_on_SevenNet-0_7net-0_labels/' \
  potentials/lipscl-l08-7net0.mtp

# 6. a second MD round with that potential (part-AL2; ~1 min), warm-started refit (~3.5 min)
cp potentials/lipscl-l08-7net0.mtp $T/v1.mtp
OMP_NUM_THREADS=2 python $D/active.py --mtp $T/v1.mtp --round 2 --steps 900
python $D/generate.py --merge                      # train.cfg = A + AL1 + AL2 + B + C
mpiexec -n 2 seimd train $T/v1.mtp $D/train.cfg -o $T/v2.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 1500 \
  --energy-weight 20 --stress-weight 0.01 --weighting structures

# 7. a third MD round (frames every 15 fs up to the first collapse; part-AL3, ~3 min), refit (~3 min)
OMP_NUM_THREADS=2 python $D/active.py --mtp $T/v2.mtp --round 3 --steps 900 --every 15
python $D/generate.py --merge                      # train.cfg = A + AL1 + AL2 + AL3 + B + C
mpiexec -n 2 seimd train $T/v2.mtp $D/train.cfg -o potentials/lipscl-l08-7net0.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 600 \
  --energy-weight 20 --stress-weight 0.01 --weighting structures --report $D/train-report.json
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-7net0_trained_on_SevenNet-0_7net-0_labels/' \
  potentials/lipscl-l08-7net0.mtp
gzip -f $D/part-*.cfg && rm -f $D/train.cfg        # committed form: parts gzipped, train.cfg by --merge
python $D/generate.py --merge

# 8. checks: errors by system, lattice constants vs 7net-0
OMP_NUM_THREADS=2 python $D/evaluate.py

# 9. stage 1 of the active learning (the default potential, ~32 min on 2 ranks; needs the
#    [oracle] extra): seimd learn on the XS interface from lipscl-l08-7net0.mtp
mpiexec -n 2 seimd learn inputs/learn.toml
cp learn-xs/final.mtp potentials/lipscl-l08-7net0-al.mtp
cp learn-xs/final.als potentials/lipscl-l08-7net0-al.als
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-7net0-al_seimd_learn_on_SevenNet-0_7net-0_labels/' \
  potentials/lipscl-l08-7net0-al.mtp potentials/lipscl-l08-7net0-al.als

# 10. stage 2 (the default potential, ~45 min on 1 rank): seimd learn on model S from stage 1
seimd learn potentials/make_lipscl_l08/learn-S.toml
cp learn-s/current.mtp potentials/lipscl-l08-7net0-al-s.mtp
cp learn-s/current.als potentials/lipscl-l08-7net0-al-s.als
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-7net0-al-s_seimd_learn_on_SevenNet-0_7net-0_labels/' \
  potentials/lipscl-l08-7net0-al-s.mtp potentials/lipscl-l08-7net0-al-s.als
