// SEIMD_HOT: compile a function for baseline x86-64 and for x86-64-v3 and let the loader
// pick per CPU.
#pragma once

// Hot loops are compiled twice, for baseline x86-64 and for x86-64-v3 (AVX2 + FMA),
// and the loader picks the one the CPU runs: a pip-built plugin stays portable across a
// cluster's nodes yet uses the wide vector units (about 15 % faster on level-08 MD).
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(SEIMD_NO_CLONES)
#define SEIMD_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SEIMD_HOT
#endif
