"""Callbacks that tests/test_fix_python.py runs inside LAMMPS through fix seimd/python.

Each records what it saw in files (one per rank) so the tests can check the context."""

from __future__ import annotations

import json
import os

import numpy as np


def counts(ctx):
    """Owned atoms summed over ranks, the step, and a sum over owned positions."""
    n = ctx.comm.allreduce(ctx.nlocal)
    xsum = ctx.comm.allreduce(float(ctx.x[:ctx.nlocal].sum()))
    return [n, ctx.step, xsum]


def nothing(ctx):
    return None


class Recorder:
    """Writes what the context holds, per rank and step, to DIR/rank<r>.jsonl."""

    names = ("natoms", "ghost_ok")
    ghost_cutoff = 7.5

    def __init__(self, ctx):
        self.path = os.path.join(ctx.kwargs["dir"], f"rank{ctx.rank}.jsonl")
        self.file = open(self.path, "w")
        self.file.write(json.dumps({"init": True, "args": ctx.args, "kwargs": ctx.kwargs,
                                    "fix_id": ctx.fix_id, "group": ctx.group,
                                    "nevery": ctx.nevery}) + "\n")

    def __call__(self, ctx):
        own = ctx.x[:ctx.nlocal]
        views = [not a.flags.owndata for a in (ctx.x, ctx.type, ctx.id, ctx.mask)]
        # every owned atom must see all atoms within ghost_cutoff among owned + ghost
        d = np.linalg.norm(own[:, None, :] - ctx.x[None, :, :], axis=2)
        self.file.write(json.dumps({
            "step": ctx.step, "time": ctx.time, "nlocal": ctx.nlocal, "nghost": ctx.nghost,
            "views": views, "ids": ctx.id[:ctx.nlocal].tolist(),
            "neighbours_within": [int(v) for v in (d < self.ghost_cutoff).sum(axis=1)],
            "in_group": int(np.count_nonzero(ctx.mask[:ctx.nlocal] & ctx.groupbit)),
        }) + "\n")
        self.file.flush()
        return [ctx.comm.allreduce(ctx.nlocal), 1.0]

    def close(self):
        self.file.write(json.dumps({"closed": True}) + "\n")
        self.file.close()


class FailAt:
    """Raises on the last rank at the step given by at=STEP."""

    names = ("ok",)

    def __init__(self, ctx):
        self.at = int(ctx.kwargs.get("at", 0))

    def __call__(self, ctx):
        if ctx.step >= self.at and ctx.rank == ctx.comm.Get_size() - 1:
            raise ZeroDivisionError(f"deliberate failure at step {ctx.step} on rank {ctx.rank}")
        return 1.0


class StopAt:
    """Asks the run to stop at step at=STEP (rank 0 only: the fix stops all ranks)."""

    names = ("step",)

    def __init__(self, ctx):
        self.at = int(ctx.kwargs["at"])

    def __call__(self, ctx):
        if ctx.step >= self.at and ctx.rank == 0:
            ctx.request_stop(f"reached step {ctx.step}")
        return ctx.step


class AtomIdTimesTwo:
    """Per-atom output: 2 * atom id of every owned atom."""

    peratom = True

    def __call__(self, ctx):
        ctx.set_peratom(2.0 * ctx.id[:ctx.nlocal])


def logger(ctx):
    """One log line per call, written by every rank (LAMMPS prints rank 0's)."""
    ctx.log(f"LOGLINE step {ctx.step} rank {ctx.rank} {{braces}} kept")


def wrong_length(ctx):
    return [1.0, 2.0, 3.0]
