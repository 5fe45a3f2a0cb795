// libseimd_pybridge.so: the Python C API side of `fix seimd/python`.
//
// Deliberately thin: it starts the interpreter when LAMMPS runs without one, takes the
// GIL, and calls three functions of the Python module `seimd.insitu.bridge` (create,
// invoke, destroy), which do the real work and report Python errors as formatted
// tracebacks. Built without linking libpython (like an extension module): the Python
// symbols come from the process, see python_bridge_abi.h.
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <cstring>
#include <string>

#include "python_bridge_abi.h"

namespace {

constexpr const char *kBridgeModule = "seimd.insitu.bridge";

void copy_message(const std::string &text, char *out, int outlen)
{
  if (!out || outlen <= 0) return;
  std::strncpy(out, text.c_str(), static_cast<size_t>(outlen) - 1);
  out[outlen - 1] = '\0';
}

std::string utf8_of(PyObject *obj)
{
  if (!obj) return {};
  PyObject *text = PyObject_Str(obj);
  if (!text) {
    PyErr_Clear();
    return "<unprintable Python object>";
  }
  const char *s = PyUnicode_AsUTF8(text);
  std::string result = s ? s : "<undecodable Python string>";
  if (!s) PyErr_Clear();
  Py_DECREF(text);
  return result;
}

// The pending Python exception with its traceback, as Python would print it. Used only
// for failures outside seimd.insitu.bridge (which formats its own errors).
std::string pending_traceback()
{
  PyObject *type = nullptr, *value = nullptr, *tb = nullptr;
  PyErr_Fetch(&type, &value, &tb);
  if (!type) return "unknown Python error";
  PyErr_NormalizeException(&type, &value, &tb);
  std::string text;
  PyObject *module = PyImport_ImportModule("traceback");
  PyObject *lines = module ? PyObject_CallMethod(module, "format_exception", "OOO", type,
                                                 value ? value : Py_None, tb ? tb : Py_None)
                           : nullptr;
  if (lines) {
    PyObject *empty = PyUnicode_FromString("");
    PyObject *joined = empty ? PyUnicode_Join(empty, lines) : nullptr;
    text = utf8_of(joined);
    Py_XDECREF(joined);
    Py_XDECREF(empty);
  } else {
    PyErr_Clear();
    text = utf8_of(type) + ": " + utf8_of(value);
  }
  Py_XDECREF(lines);
  Py_XDECREF(module);
  Py_XDECREF(type);
  Py_XDECREF(value);
  Py_XDECREF(tb);
  return text;
}

// Call seimd.insitu.bridge.<name>(*args); steals `args`. New reference or nullptr.
PyObject *call_bridge(const char *name, PyObject *args, std::string &error)
{
  if (!args) {
    error = pending_traceback();
    return nullptr;
  }
  PyObject *module = PyImport_ImportModule(kBridgeModule);
  PyObject *function = module ? PyObject_GetAttrString(module, name) : nullptr;
  PyObject *result = function ? PyObject_CallObject(function, args) : nullptr;
  if (!result) error = pending_traceback();
  Py_XDECREF(function);
  Py_XDECREF(module);
  Py_DECREF(args);
  return result;
}

// Item i of a tuple as a message: None -> empty.
std::string optional_text(PyObject *tuple, Py_ssize_t i)
{
  PyObject *item = PyTuple_GetItem(tuple, i);
  return (item && item != Py_None) ? utf8_of(item) : std::string();
}

struct GIL {
  PyGILState_STATE state;
  GIL() : state(PyGILState_Ensure()) {}
  ~GIL() { PyGILState_Release(state); }
};

}    // namespace

extern "C" {

int seimd_py_initialize(const char *python_executable, char *err, int errlen)
{
  if (Py_IsInitialized()) return 0;
  PyConfig config;
  PyConfig_InitPythonConfig(&config);
  config.install_signal_handlers = 0;    // SIGINT and friends stay with LAMMPS and MPI
  config.parse_argv = 0;
  PyStatus status = PyStatus_Ok();
  // The interpreter finds its prefix, and a virtualenv's pyvenv.cfg, from its executable.
  if (python_executable && *python_executable)
    status = PyConfig_SetBytesString(&config, &config.program_name, python_executable);
  if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
  PyConfig_Clear(&config);
  if (PyStatus_Exception(status)) {
    copy_message(std::string("cannot start the Python interpreter: ") +
                     (status.err_msg ? status.err_msg : "unknown error"),
                 err, errlen);
    return 1;
  }
  // Release the GIL: every later call takes it with PyGILState_Ensure, exactly as when
  // LAMMPS runs inside a Python process. The interpreter is never finalized: modules
  // like mpi4py and h5py must not be torn down before MPI and LAMMPS are.
  PyEval_SaveThread();
  return 0;
}

void *seimd_py_fix_create(const seimd_py_fix_spec *spec, seimd_py_fix_info *info, char *err,
                          int errlen)
{
  GIL gil;
  std::string error;
  PyObject *capsule = PyCapsule_New(spec->lammps, nullptr, nullptr);
  PyObject *args = capsule ? PyList_New(spec->nargs) : nullptr;
  for (int i = 0; args && i < spec->nargs; ++i)
    PyList_SET_ITEM(args, i, PyUnicode_FromString(spec->args[i]));
  PyObject *call = (capsule && args) ? Py_BuildValue("(OssisiO)", capsule, spec->fix_id, spec->group,
                                                     spec->groupbit, spec->target, spec->nevery, args)
                                     : nullptr;
  Py_XDECREF(capsule);
  Py_XDECREF(args);
  PyObject *result = call_bridge("create", call, error);
  // result: (handle or None, nvalues, ghost_cutoff, peratom, error text or None)
  void *handle = nullptr;
  if (result) {
    error = optional_text(result, 4);
    PyObject *obj = PyTuple_GetItem(result, 0);
    if (error.empty() && obj && obj != Py_None) {
      info->nvalues = static_cast<int>(PyLong_AsLong(PyTuple_GetItem(result, 1)));
      info->ghost_cutoff = PyFloat_AsDouble(PyTuple_GetItem(result, 2));
      info->peratom = static_cast<int>(PyLong_AsLong(PyTuple_GetItem(result, 3)));
      if (PyErr_Occurred()) {
        error = pending_traceback();
      } else {
        Py_INCREF(obj);
        handle = obj;
      }
    }
    Py_DECREF(result);
  }
  if (!handle) copy_message(error.empty() ? "Python bridge returned no callback" : error, err, errlen);
  return handle;
}

int seimd_py_fix_invoke(void *handle, int64_t step, double time, double *values, int nvalues,
                        double *peratom, int nlocal, int *stop, char *msg, int msglen,
                        char *log, int loglen)
{
  GIL gil;
  std::string error;
  *stop = 0;
  PyObject *call = Py_BuildValue("(OLdii)", static_cast<PyObject *>(handle),
                                 static_cast<long long>(step), time, nvalues, nlocal);
  PyObject *result = call_bridge("invoke", call, error);
  // result: (tuple of nvalues floats, per-atom float64 buffer or None, stop reason or
  // None, error text or None, log text or None)
  if (result) {
    error = optional_text(result, 3);
    if (error.empty()) {
      PyObject *vals = PyTuple_GetItem(result, 0);
      for (int i = 0; i < nvalues; ++i) values[i] = PyFloat_AsDouble(PyTuple_GetItem(vals, i));
      PyObject *atoms = PyTuple_GetItem(result, 1);
      if (peratom && atoms != Py_None) {
        Py_buffer view;
        if (PyObject_GetBuffer(atoms, &view, PyBUF_C_CONTIGUOUS) == 0) {
          const auto bytes = sizeof(double) * static_cast<size_t>(nlocal);
          if (static_cast<size_t>(view.len) >= bytes) std::memcpy(peratom, view.buf, bytes);
          else error = "per-atom values: the bridge returned fewer than nlocal values";
          PyBuffer_Release(&view);
        }
      }
      PyObject *reason = PyTuple_GetItem(result, 2);
      if (reason != Py_None) {
        *stop = 1;
        copy_message(utf8_of(reason), msg, msglen);
      }
      copy_message(optional_text(result, 4), log, loglen);
      if (PyErr_Occurred()) error = pending_traceback();
    }
    Py_DECREF(result);
  }
  if (error.empty()) return 0;
  copy_message(error, msg, msglen);
  return 1;
}

int seimd_py_fix_destroy(void *handle, char *err, int errlen)
{
  if (!handle) return 0;
  GIL gil;
  std::string error;
  PyObject *obj = static_cast<PyObject *>(handle);
  PyObject *result = call_bridge("destroy", Py_BuildValue("(O)", obj), error);
  if (result) {
    if (result != Py_None) error = utf8_of(result);
    Py_DECREF(result);
  }
  Py_DECREF(obj);
  if (error.empty()) return 0;
  copy_message(error, err, errlen);
  return 1;
}

}    // extern "C"
