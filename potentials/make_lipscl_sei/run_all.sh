#!/usr/bin/env bash
# Rebuild potentials/make_lipscl_sei/lipscl-l08-sei-v2.mtp and its checks, from the repository root, with
# the seimd venv active and the labellers installed:
#     pip install torch==2.13.0 && pip install ".[oracle]" && pip install gpaw==26.7.0 gpaw-data==1.2.1
# Every step is resumable: rerun the script after a kill and finished work is skipped.
# Wall times measured on 2 shared cores are in potentials/README.md.
set -euo pipefail
D=potentials/make_lipscl_sei
# new_labels TRAINING SKIP OUT: the configurations a learning run added after the SKIP it
# started from, gzipped at full precision (the labels committed beside each potential)
new_labels() {
  python -c "import gzip, sys; from seimd.io.cfg import read_cfg, format_cfg; c = read_cfg(open(sys.argv[1]).read()); gzip.open(sys.argv[3], 'wt').write(''.join(format_cfg(x, full_precision=True) for x in c[int(sys.argv[2]):]))" "$1" "$2" "$3"
}
export OMP_NUM_THREADS=1

# 1. training data for crystallization (7net-0 labels; data/<task>.cfg.gz, ~1 h on 1 core)
python $D/generate.py
# 1b. PBE labels for the small overlithiated cells (7net-0 is ~1 eV per excess Li off there;
#     ~3 h on 1 core, resumable), on the 7net-0 energy scale
python $D/pbe_labels.py run
python $D/pbe_labels.py finish
# train-sei.cfg = data/* (PBE cells where labelled, 5x weight; the 7net-0 overli-* dropped)
#                 + make_lipscl_l08 less its wrong Li2S
python $D/generate.py --merge --pbe-weight 5

# 2. energetics structures (7net-0 relaxed), then every teacher on them (PBE: hours)
python $D/energetics.py structures
python $D/energetics.py run --teacher 7net0
python $D/energetics.py run --teacher pbe

# 3. the potential: warm start from the stage-2 potential, then "vibrations" (N) weighting
#    (v1: N^2 scaling gave the solid solution 54 meV/atom above the products, PBE 26-31)
T=$(mktemp -d)
mpiexec -n 2 seimd train potentials/lipscl-l08-7net0-al-s.mtp $D/train-sei.cfg -o $T/v1.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 500 --energy-weight 20 --stress-weight 0.01 \
  --weighting structures
mpiexec -n 2 seimd train $T/v1.mtp $D/train-sei.cfg -o $D/lipscl-l08-sei-v2.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 500 --weighting vibrations \
  --energy-weight 2 --stress-weight 0.002 --report $D/train-report-v2.json
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-sei-v2_crystallization_data_7net-0_labels/' \
  $D/lipscl-l08-sei-v2.mtp

# 3b. sei-v3: warm start from sei-v2 on the merged set with the PBE small cells (~4 min on 2 ranks)
mpiexec -n 2 seimd train $D/lipscl-l08-sei-v2.mtp $D/train-sei.cfg -o $D/lipscl-l08-sei-v3.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 500 --weighting vibrations \
  --energy-weight 2 --stress-weight 0.002 --report $D/train-report-v3.json
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-sei-v3_crystallization_data_7net-0_and_PBE_small_cells/' \
  $D/lipscl-l08-sei-v3.mtp

# 3c. sei-v3b: the PBE cells at 20x weight, 300 more iterations from sei-v3 (the start of step 5)
python $D/generate.py --merge --pbe-weight 20
mpiexec -n 2 seimd train $D/lipscl-l08-sei-v3.mtp $D/train-sei.cfg -o $D/lipscl-l08-sei-v3b.mtp \
  --species-map Li,P,S,Cl --holdout 0.1 --seed 0 --max-iter 300 --weighting vibrations \
  --energy-weight 2 --stress-weight 0.002 --report $D/train-report-v3b.json
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-sei-v3b_crystallization_data_7net-0_and_PBE_small_cells_x20/' \
  $D/lipscl-l08-sei-v3b.mtp

# 4. checks: the potentials on the same structures, the tables of potentials/README.md
python $D/energetics.py run --teacher mtp:$D/lipscl-l08-sei-v2.mtp
python $D/energetics.py run --teacher mtp:$D/lipscl-l08-sei-v3.mtp
python $D/energetics.py run --teacher mtp:$D/lipscl-l08-sei-v3b.mtp
python $D/energetics.py table
python $D/pbe_labels.py table --mtp $D/lipscl-l08-sei-v2.mtp --mtp $D/lipscl-l08-sei-v3.mtp \
  --mtp $D/lipscl-l08-sei-v3b.mtp

# 5. active learning on model S at 300 and 400 K from sei-v3b (7net-0 labels on cut
#    neighbourhoods; resumable: rerun to continue)
seimd learn $D/learn-S-sei.toml
cp learn-s-sei/final.mtp $D/lipscl-l08-sei-v3b-al-s.mtp && cp learn-s-sei/final.als $D/lipscl-l08-sei-v3b-al-s.als
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-sei-v3b-al-s_seimd_learn_on_model_S_7net-0_labels/' \
  $D/lipscl-l08-sei-v3b-al-s.mtp
new_labels learn-s-sei/training.cfg 918 $D/learn-S-sei.cfg.gz
# 5b. second round (5 ps per run and iteration, 3 quiet iterations to stop; in progress)
seimd learn $D/learn-S-sei-2.toml
# (sei-v3b-al-s2 = learn-s-sei-2's potential at iteration 13; its labels: learn-S-sei-2.cfg.gz)
# 6. in-situ active learning on model I (7956 atoms) at 400 K inside the production run
#    (learn-I-sei.toml; 2 ranks, ~1 h; resumable: rerun the same command). The final
#    generation is sei-v3b-al-i, its new labels learn-I-sei.cfg.gz.
gunzip -kf $D/lipscl-l08-sei-v3b-al-s2.als.gz
[ -f I.data ] || seimd build I -o I.data
if [ ! -f i400.final.data ]; then
  r=""; [ -f i400.log ] && r=$(ls -t i400.restart.[12] 2>/dev/null | head -1)
  mpiexec -n 2 lmp -in inputs/sei.in -var data I.data -var temperature 400 -var run_ps 300 \
    -var potential $D/lipscl-l08-sei-v3b-al-s2.mtp -var active_set $D/lipscl-l08-sei-v3b-al-s2.als \
    -var learn $D/learn-I-sei.toml -var grade_every 10 -var prefix i400 ${r:+-var restart $r}
fi
cp i400.learn/current.mtp $D/lipscl-l08-sei-v3b-al-i.mtp && gzip -c i400.learn/current.als > $D/lipscl-l08-sei-v3b-al-i.als.gz
sed -i 's/^potential_name = .*/potential_name = lipscl-l08-sei-v3b-al-i_seimd_insitu_learn_on_model_I_400K_7net-0_labels/' \
  $D/lipscl-l08-sei-v3b-al-i.mtp
new_labels i400.learn/training.cfg 997 $D/learn-I-sei.cfg.gz   # 997: learn-I-sei.toml's start set
# 7. checks of the result: energetics against PBE, model I at 400 K for 300 ps, seeds 1 and 2
python $D/energetics.py run --teacher mtp:$D/lipscl-l08-sei-v3b-al-i.mtp
python $D/pbe_labels.py table --mtp $D/lipscl-l08-sei-v3b-al-i.mtp
gunzip -kf $D/lipscl-l08-sei-v3b-al-i.als.gz
for seed in 1 2; do
  [ -f i$seed.final.data ] && continue      # (a killed run: -var restart i$seed.restart.N continues it)
  lmp -in inputs/sei.in -var data I.data -var potential $D/lipscl-l08-sei-v3b-al-i.mtp \
    -var active_set $D/lipscl-l08-sei-v3b-al-i.als -var temperature 400 -var run_ps 300 \
    -var seed $seed -var prefix i$seed -var monitor_args "profile_bins=24 labels=yes"
done
seimd analyze i1.h5 i2.h5
