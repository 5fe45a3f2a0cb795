#include "python_host.h"

#include <dlfcn.h>
#include <sys/stat.h>

#include <cstdlib>
#include <mutex>
#include <stdexcept>

// Set by CMake from the Python that built seimd: fallbacks when neither the environment
// nor the plugin's location tell where Python is.
#ifndef SEIMD_BUILD_LIBPYTHON
#define SEIMD_BUILD_LIBPYTHON ""
#endif
#ifndef SEIMD_BUILD_LIBPYTHON_SONAME
#define SEIMD_BUILD_LIBPYTHON_SONAME ""
#endif
#ifndef SEIMD_BUILD_PYTHON
#define SEIMD_BUILD_PYTHON ""
#endif
#ifndef SEIMD_PYBRIDGE_NAME
#define SEIMD_PYBRIDGE_NAME "libseimd_pybridge.so"
#endif

namespace seimd {
namespace {

bool is_file(const std::string &path)
{
  struct stat st;
  return !path.empty() && stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string env(const char *name)
{
  const char *value = std::getenv(name);
  return value ? value : "";
}

std::string parent(const std::string &path)
{
  const auto slash = path.find_last_of('/');
  return slash == std::string::npos ? std::string(".") : path.substr(0, slash);
}

// <prefix>/lib/pythonX.Y/site-packages/seimd/lammps_plugins -> <prefix>/bin/python3
std::string python_of_install_tree()
{
  const std::string site_packages = parent(parent(plugin_directory()));
  if (site_packages.size() < 14 || site_packages.substr(site_packages.size() - 14) != "/site-packages")
    return "";
  const std::string candidate = parent(parent(parent(site_packages))) + "/bin/python3";
  return is_file(candidate) ? candidate : "";
}

std::string first_existing(std::initializer_list<std::string> candidates)
{
  for (const auto &c : candidates)
    if (is_file(c)) return c;
  return "";
}

template <typename T> T symbol(void *library, const char *name, const std::string &where)
{
  void *address = dlsym(library, name);
  if (!address) throw std::runtime_error("seimd: " + where + " has no symbol " + name);
  return reinterpret_cast<T>(address);
}

PythonBridge load_bridge()
{
  // A Python process (LAMMPS started through `import lammps`) exports the C API; the
  // `lmp` executable does not, and then we bring libpython in ourselves.
  if (!dlsym(RTLD_DEFAULT, "Py_IsInitialized")) {
    // A full path if one exists, else the bare soname for the loader's own search path
    // (Debian keeps libpython3.X.so.1.0 in a multiarch directory).
    std::string libpython = first_existing({env("SEIMD_LIBPYTHON"), SEIMD_BUILD_LIBPYTHON});
    if (libpython.empty()) libpython = SEIMD_BUILD_LIBPYTHON_SONAME;
    if (libpython.empty() || !dlopen(libpython.c_str(), RTLD_NOW | RTLD_GLOBAL))
      throw std::runtime_error(
          "seimd: fix seimd/python needs a shared libpython to embed Python in this LAMMPS "
          "executable; none could be loaded ($SEIMD_LIBPYTHON='" + env("SEIMD_LIBPYTHON") +
          "', build-time '" SEIMD_BUILD_LIBPYTHON "'). Install it (Debian: libpython3-dev), set "
          "SEIMD_LIBPYTHON=/path/to/libpython3.X.so, or drive LAMMPS from Python (import lammps).");
  }
  const std::string path = plugin_directory() + "/" SEIMD_PYBRIDGE_NAME;
  void *library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library) throw std::runtime_error("seimd: cannot load the Python bridge " + path + ": " + dlerror());

  auto initialize = symbol<seimd_py_initialize_t>(library, "seimd_py_initialize", path);
  const std::string python = first_existing({env("SEIMD_PYTHON"), python_of_install_tree(), SEIMD_BUILD_PYTHON});
  char err[4096] = {0};
  if (initialize(python.c_str(), err, sizeof(err)) != 0)
    throw std::runtime_error(std::string("seimd: ") + err + " (Python executable '" + python + "')");

  PythonBridge bridge;
  bridge.create = symbol<seimd_py_fix_create_t>(library, "seimd_py_fix_create", path);
  bridge.invoke = symbol<seimd_py_fix_invoke_t>(library, "seimd_py_fix_invoke", path);
  bridge.destroy = symbol<seimd_py_fix_destroy_t>(library, "seimd_py_fix_destroy", path);
  return bridge;
}

}    // namespace

std::string plugin_directory()
{
  Dl_info info;
  if (dladdr(reinterpret_cast<void *>(&plugin_directory), &info) == 0 || !info.dli_fname)
    return ".";
  return parent(info.dli_fname);
}

const PythonBridge &python_bridge()
{
  // Loaded once; a failure is remembered so that every fix reports the same reason.
  static std::once_flag once;
  static PythonBridge bridge;
  static std::string failure;
  std::call_once(once, [] {
    try {
      bridge = load_bridge();
    } catch (const std::exception &e) {
      failure = e.what();
    }
  });
  if (!failure.empty()) throw std::runtime_error(failure);
  return bridge;
}

}    // namespace seimd
