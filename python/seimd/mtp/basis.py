"""Untrained MTP moment bases (the ``alpha_*`` lists of MLIP-2 ``.mtp`` templates).

Written from the MTP formulas (Shapeev 2016; Novikov et al. 2021) and from the
observable structure of MLIP-2 templates; no MLIP code is used.

Objects
-------
* A *label* ``(mu, nu)`` names the basic moment
  ``M[mu,nu] = sum_j f_mu(r_ij) u^a v^b w^c`` over the neighbours' unit vectors
  ``(u, v, w)``, ``a + b + c = nu``: a symmetric tensor of rank ``nu`` and level
  ``2 + 4 mu + nu``, kept as its ``(nu+1)(nu+2)/2`` distinct components in the
  order ``(nu,0,0), (nu-1,1,0), (nu-1,0,1), (nu-2,2,0), ...`` (a, then b, descending).
* A *basis function* is a scalar contraction of at most four basic moments,
  described by a multigraph: one vertex per factor, ``m`` parallel edges for
  ``m`` indices contracted between two factors, vertex degree ``nu``, no loops
  (a self-trace of ``M[mu,nu]`` is ``M[mu,nu-2]`` for unit vectors). Its level
  is the sum of its factors' levels. Each basis function is the *exact*
  contraction of its graph (no symmetrisation of intermediates).

The rule implemented
--------------------
1. Radial functions ``K = min(6, (level - 2) // 4 + 1)`` (mu < K) and tensor
   ranks ``nu <= 10``. Both caps bind only at levels 26 and 28; they give level
   28 its K = 6 and 866 basic moments.
2. Basis functions: every non-isomorphic loop-free multigraph with 1 to 4
   vertices labelled ``(mu, nu)`` (mu < K, nu <= 10) of vertex degrees ``nu``
   and total level ``<= level``: 1, 2, 5, 9, 16, 29, 52, 92, 163, 288, 500,
   864, 1464, 2445 for levels 2, 4, ..., 28 (an odd level has the basis of the
   even level below: the total rank of a scalar is even). This is, graph for
   graph, the set of contractions that MLIP-2's templates evaluate (checked
   for levels 2-24 against the contraction trees that motep, MIT licensed,
   ships as reproductions of MLIP's basis; ``tests/test_basis.py`` compares
   the values). The basic moments are the labels that occur.
3. Connected functions of ``n >= 2`` factors, with their vertices in the
   canonical order of rule 2 (labels by descending ``(mu, nu)``, equal labels
   permuted to the lexicographically smallest upper-triangle adjacency), are
   evaluated as chains: ``T1 = M[v1]``, ``Tk = contract(M[vk], T(k-1))`` over
   the indices joining ``vk`` to ``v1..v(k-1)``. The order is fixed from the
   end: ``vn`` is, among the vertices whose removal leaves the rest
   connected, the one with the fewest edges to the rest (contracted indices
   ``k``); ties go to the highest canonical index. ``v(n-1)``, ... follow by
   the same rule on the remaining vertices (their edges to removed vertices
   count as free indices, not as ``k``); of the last two, the lower index is
   ``v1``. Exception (four factors): if the vertices split into two connected
   pairs joined by fewer edges than the ``k`` of ``vn``, the function is the
   full contraction of the two pair tensors (each evaluated by this rule),
   e.g. ``(M[0,2]:M[0,3]).(M[0,2]:M[0,3])`` as a dot product of two vectors;
   at equal numbers the chain is used. Intermediates are *not* symmetrised: a
   tensor keeps its free indices in groups, one per factor (the new factor's
   group first), and is symmetric only within a group; a component is one
   monomial per group. Checked slot by slot against MLIP-2's level-18
   template; it gives MLIP-2's counts at every level (see below).
4. Storage: a slot is identified by its exact expression ``sum m * x * y``
   (operand slots, ``m`` the integer multiplicity); components of any tensors
   with equal expressions share one slot (e.g. ``T_ab = T_ba`` for
   ``T = M[0,2] . M[0,2]``). Basic components are their own slots.
5. Disconnected functions are products of their connected components, taken
   one at a time in decreasing order of their (descending) label lists; each
   partial product is itself a basis function.
6. Order: basic moments by ``(mu, nu)``, then components; derived tensors by
   number of factors, then by their descending label list ``s1 >= ... >= sn``
   compared as ``(s1, sn, s2, ..., s(n-1))``, then rank, then history; within
   a tensor, components by the monomial of their summed indices, then group
   by group; a slot is listed where it first occurs. Times rows by slot, in
   order of first occurrence in the sum; a row is
   ``{new factor, accumulated tensor, m, result}`` (``i <= j`` when a tensor
   is contracted with itself). The mapping lists the scalar slots in order.

Agreement with MLIP-2 templates (R = 8)
---------------------------------------
Level 08 equals the MLIP-2 sample list for list. K, the basic moments and the
basis functions (as exact contraction graphs) agree at every level.
``alpha_moments_count`` agrees at every level 2-28 and
``alpha_index_times_count`` wherever it is known (14, 42, 117, 969, 2634,
6349, 15431, 36170 at 8, 10, 12, 16, 18, 20, 22, 24); at level 18 every slot
equals an MLIP-2 slot in value and number of rows. The one known difference:

=====  ==========  =======================
level  moments     times (MLIP-2)
=====  ==========  =======================
26     9396        82529 (?)
28     17366       180087 (180069, +18)
=====  ==========  =======================

The order of the lists (rule 6) is this module's, not MLIP-2's, from level
10 or so on; it does not change any count.

Every mapped moment is a full contraction of symmetric tensors, hence
invariant under rotations (and reflections); ``tests/test_basis.py`` checks
this, the counts, the level-08 lists, the numerical ranks and the values
against motep's contraction trees.
"""

from __future__ import annotations

import argparse
import functools
import itertools
import math
import sys
from pathlib import Path

import numpy as np

__all__ = [
    "generate_basis",
    "basis_to_mtp_text",
    "default_radial_funcs_count",
    "evaluate_moments",
    "main",
    "MAX_FACTORS",
    "NU_MAX",
    "K_MAX",
]

MAX_FACTORS = 4  # basic moments per basis function
NU_MAX = 10  # highest tensor rank of a basic moment
K_MAX = 6  # most radial functions (mu = 0 .. K_MAX-1)


# ---------------------------------------------------------------------------
# small combinatorics
# ---------------------------------------------------------------------------


def default_radial_funcs_count(level: int) -> int:
    """K of the MLIP-2 templates: every ``M[mu,0]`` with ``2 + 4 mu <= level``, at most 6."""
    return max(1, min(K_MAX, (int(level) - 2) // 4 + 1))


def label_level(label: tuple[int, int]) -> int:
    mu, nu = label
    return 2 + 4 * mu + nu


@functools.lru_cache(maxsize=None)
def _monomials(n: int) -> tuple[tuple[int, int, int], ...]:
    """Components (a, b, c), a + b + c = n, in storage order."""
    return tuple((a, b, n - a - b) for a in range(n, -1, -1) for b in range(n - a, -1, -1))


@functools.lru_cache(maxsize=None)
def _monomial_index(n: int) -> dict[tuple[int, int, int], int]:
    return {c: i for i, c in enumerate(_monomials(n))}


@functools.lru_cache(maxsize=None)
def _multinomial(comp: tuple[int, int, int]) -> int:
    a, b, c = comp
    return math.factorial(a + b + c) // (math.factorial(a) * math.factorial(b) * math.factorial(c))


def _ncomp(n: int) -> int:
    return (n + 1) * (n + 2) // 2


def _add(p: tuple[int, int, int], q: tuple[int, int, int]) -> tuple[int, int, int]:
    return (p[0] + q[0], p[1] + q[1], p[2] + q[2])


# ---------------------------------------------------------------------------
# basis functions as contraction multigraphs
# ---------------------------------------------------------------------------


def _labels(level: int, K: int) -> list[tuple[int, int]]:
    return sorted((mu, nu) for mu in range(K) for nu in range(NU_MAX + 1)
                  if label_level((mu, nu)) <= level)


def _pairs(n: int) -> list[tuple[int, int]]:
    return [(i, j) for i in range(n) for j in range(i + 1, n)]


def _adjacencies(degrees: tuple[int, ...]) -> list[tuple[int, ...]]:
    """All loop-free multigraphs with the given vertex degrees, as upper-triangle tuples."""
    n = len(degrees)
    if n == 1:
        return [()] if degrees[0] == 0 else []
    pairs = _pairs(n)
    last = {i: max(p for p, (x, y) in enumerate(pairs) if i in (x, y)) for i in range(n)}
    out: list[tuple[int, ...]] = []
    rem = list(degrees)
    cur: list[int] = []

    def rec(p: int) -> None:
        if p == len(pairs):
            out.append(tuple(cur))
            return
        i, j = pairs[p]
        for m in range(min(rem[i], rem[j]) + 1):
            rem[i] -= m
            rem[j] -= m
            if (last[i] != p or rem[i] == 0) and (last[j] != p or rem[j] == 0):
                cur.append(m)
                rec(p + 1)
                cur.pop()
            rem[i] += m
            rem[j] += m

    rec(0)
    return out


def _canonical(nodes: tuple, adj: tuple[int, ...]) -> tuple[int, ...]:
    """Smallest adjacency tuple over relabellings that keep the (sorted) labels in place."""
    n = len(nodes)
    groups: list[list[int]] = []
    for i in range(n):
        if i and nodes[i] == nodes[i - 1]:
            groups[-1].append(i)
        else:
            groups.append([i])
    pairs = _pairs(n)
    A = {p: m for p, m in zip(pairs, adj)}
    best = None
    for perms in itertools.product(*(itertools.permutations(g) for g in groups)):
        o = [i for p in perms for i in p]
        t = tuple(A[(min(o[x], o[y]), max(o[x], o[y]))] for x, y in pairs)
        if best is None or t < best:
            best = t
    return best


def _graphs(level: int, K: int) -> list[tuple[tuple, tuple]]:
    """Canonical (nodes, adjacency) of every basis function, nodes sorted descending."""
    labels = _labels(level, K)
    out = []
    seen = set()

    def rec(start: int, cur: list, lev: int) -> None:
        if cur:
            nodes = tuple(sorted(cur, reverse=True))
            degs = tuple(nu for _, nu in nodes)
            if sum(degs) % 2 == 0:
                for adj in _adjacencies(degs):
                    g = (nodes, _canonical(nodes, adj))
                    if g not in seen:
                        seen.add(g)
                        out.append(g)
        if len(cur) == MAX_FACTORS:
            return
        for i in range(start, len(labels)):
            lv = label_level(labels[i])
            if lev + lv <= level:
                cur.append(labels[i])
                rec(i, cur, lev + lv)
                cur.pop()

    rec(0, [], 0)
    out.sort(key=lambda g: (sum(label_level(x) for x in g[0]), len(g[0]), g))
    return out


def _matrix(nodes: tuple, adj: tuple[int, ...]) -> list[list[int]]:
    n = len(nodes)
    A = [[0] * n for _ in range(n)]
    for (i, j), m in zip(_pairs(n), adj):
        A[i][j] = A[j][i] = m
    return A


def _components(A: list[list[int]]) -> list[list[int]]:
    n = len(A)
    comp = list(range(n))

    def find(x: int) -> int:
        while comp[x] != x:
            x = comp[x]
        return x

    for i in range(n):
        for j in range(i + 1, n):
            if A[i][j]:
                comp[find(i)] = find(j)
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())


# ---------------------------------------------------------------------------
# the basis
# ---------------------------------------------------------------------------


def _removal_order(A, verts) -> list[int]:
    """Vertices of a connected (sub)graph in chain order (see rule 3).

    Built from the end: the last factor is, among the vertices whose removal
    leaves the rest connected, the one with the fewest edges to the rest;
    ties go to the highest vertex index of the canonical graph. The rest is
    ordered by the same rule; of the last two vertices the lower index comes
    first (it is the accumulated tensor the other one is contracted with)."""
    rest = list(verts)
    removed = []
    while len(rest) > 1:
        best = None
        for x in rest:
            others = [w for w in rest if w != x]
            if not _connected(A, others):
                continue
            key = (sum(A[x][w] for w in others), -x)
            if best is None or key < best[0]:
                best = (key, x)
        removed.append(best[1])
        rest.remove(best[1])
    return rest + removed[::-1]


def _connected(A, verts) -> bool:
    verts = list(verts)
    seen = {verts[0]}
    stack = [verts[0]]
    while stack:
        u = stack.pop()
        for w in verts:
            if w not in seen and A[u][w]:
                seen.add(w)
                stack.append(w)
    return len(seen) == len(verts)


def _split(A) -> tuple | None:
    """Rule 3, second case: the split of a four-vertex connected graph into two
    connected pairs with the fewest edges between them, if that number is
    smaller than the number of indices the last factor of the chain contracts."""
    n = len(A)
    if n != 4:
        return None
    verts = list(range(n))
    k_chain = min(sum(A[x][w] for w in verts if w != x) for x in verts
                  if _connected(A, [w for w in verts if w != x]))
    best = None
    for P in itertools.combinations(verts, 2):
        if 0 not in P:
            continue
        Q = tuple(v for v in verts if v not in P)
        if not (A[P[0]][P[1]] and A[Q[0]][Q[1]]):
            continue
        cut = sum(A[p][q] for p in P for q in Q)
        if best is None or cut < best[0]:
            best = (cut, P, Q)
    if best is None or best[0] >= k_chain:
        return None
    return best[1], best[2]


class _Tensor:
    """A stored (unsymmetrised) tensor: free indices in groups, one group per
    factor that still has free indices; symmetric within a group. ``comps``
    maps a component (one monomial per group) to its slot."""

    __slots__ = ("key", "sizes", "labels", "rank", "comps", "new", "acc", "same")

    def __init__(self, key, sizes, labels, new=None, acc=None):
        self.key = key
        self.sizes = sizes
        self.labels = labels  # basic labels of all factors, sorted descending
        self.rank = sum(sizes)
        self.comps: dict = {}
        self.new, self.acc = new, acc
        self.same = new is not None and new == acc


class _Store:
    """Slots identified by their exact expression (sum of m * slot * slot)."""

    def __init__(self):
        self.tensors: dict = {}
        self.expr: dict = {}  # expression -> slot
        self.rows: list = []  # rows of each slot (None for basic components)
        self.basic_of: dict = {}  # slot -> (mu, a, b, c)

    def _slot(self, rows: dict) -> int:
        key = tuple(sorted(((min(p), max(p)), m) for p, m in rows.items()))
        s = self.expr.get(key)
        if s is None:
            s = self.expr[key] = len(self.rows)
            self.rows.append(list(rows.items()))
        return s

    def basic(self, label) -> _Tensor:
        key = ("B",) + tuple(label)
        T = self.tensors.get(key)
        if T is None:
            mu, nu = label
            T = self.tensors[key] = _Tensor(key, (nu,) if nu else (), (tuple(label),))
            for c in _monomials(nu):
                s = len(self.rows)
                self.rows.append(None)
                self.basic_of[s] = (mu,) + c
                T.comps[(c,) if nu else ()] = s
        return T

    def contract(self, new: _Tensor, acc: _Tensor, cs: tuple[int, ...]) -> _Tensor:
        """``new`` (a basic moment) contracted with ``acc``: ``cs[g]`` indices of
        acc's group g with as many of new's indices (no cs: a product of scalars)."""
        key = ("C", new.key, acc.key, cs)
        T = self.tensors.get(key)
        if T is not None:
            return T
        d = sum(cs)
        nfree = new.rank - d
        sizes = ((nfree,) if nfree else ()) + tuple(s - c for s, c in zip(acc.sizes, cs) if s > c)
        labels = tuple(sorted(new.labels + acc.labels, reverse=True))
        T = self.tensors[key] = _Tensor(key, sizes, labels, new.key, acc.key)
        zero = (0, 0, 0)
        cgroups = [g for g, c in enumerate(cs) if c]
        ksets = [[(K, _multinomial(K)) for K in _monomials(cs[g])] for g in cgroups]
        free_acc = [g for g, (s, c) in enumerate(zip(acc.sizes, cs)) if s > c]
        spaces = ([_monomials(nfree)] if nfree else []) + [_monomials(acc.sizes[g] - cs[g]) for g in free_acc]
        for comp in itertools.product(*spaces):
            pn = comp[0] if nfree else zero
            pa = [zero] * len(acc.sizes)
            for g, P in zip(free_acc, comp[1 if nfree else 0:]):
                pa[g] = P
            rows: dict = {}
            for ks in itertools.product(*ksets):
                m = 1
                mn = pn
                ta = list(pa)
                for g, (Kc, mult) in zip(cgroups, ks):
                    m *= mult
                    mn = _add(mn, Kc)
                    ta[g] = _add(ta[g], Kc)
                sa = acc.comps[tuple(ta)]
                sn = new.comps[(mn,)] if new.rank else new.comps[()]
                p = (sn, sa)
                rows[p] = rows.get(p, 0) + m
            T.comps[comp] = self._slot(rows)
        return T

    def pair(self, P: _Tensor, Q: _Tensor, C) -> _Tensor:
        """Full contraction of two derived tensors: ``C[g][h]`` indices of P's
        group g with as many of Q's group h (every index is contracted)."""
        key = ("G", P.key, Q.key, tuple(map(tuple, C)))
        T = self.tensors.get(key)
        if T is not None:
            return T
        labels = tuple(sorted(P.labels + Q.labels, reverse=True))
        T = self.tensors[key] = _Tensor(key, (), labels, P.key, Q.key)
        T.same = P.key == Q.key
        links = [(g, h, C[g][h]) for g in range(len(P.sizes)) for h in range(len(Q.sizes)) if C[g][h]]
        ksets = [[(Kc, _multinomial(Kc)) for Kc in _monomials(c)] for _, _, c in links]
        zero = (0, 0, 0)
        rows: dict = {}
        for ks in itertools.product(*ksets):
            m = 1
            tp = [zero] * len(P.sizes)
            tq = [zero] * len(Q.sizes)
            for (g, h, _), (Kc, mult) in zip(links, ks):
                m *= mult
                tp[g] = _add(tp[g], Kc)
                tq[h] = _add(tq[h], Kc)
            pq = (P.comps[tuple(tp)], Q.comps[tuple(tq)])
            rows[pq] = rows.get(pq, 0) + m
        T.comps[()] = self._slot(rows)
        return T

    def product(self, keys) -> _Tensor:
        """Product of scalars, left to right."""
        acc = self.tensors[keys[0]]
        for k in keys[1:]:
            new = self.tensors[k]
            key = ("P", acc.key, new.key)
            T = self.tensors.get(key)
            if T is None:
                T = self.tensors[key] = _Tensor(key, (), tuple(sorted(new.labels + acc.labels, reverse=True)),
                                                new.key, acc.key)
                T.comps[()] = self._slot({(new.comps[()], acc.comps[()]): 1})
            acc = T
        return acc


def _tensor_sort_key(T: _Tensor):
    lab = T.labels
    return (len(lab), lab[0], lab[-1]) + tuple(lab[1:-1]) + (T.rank, repr(T.key))


def _comp_sort_key(comp):
    tot = (0, 0, 0)
    for P in comp:
        tot = _add(tot, P)
    return (_monomial_index(sum(tot))[tot],) + tuple(_monomial_index(sum(P))[P] for P in comp)


def _chain(st: _Store, used: dict, nodes, A, order):
    """Evaluate the vertices ``order`` as a chain; returns the tensor and the
    vertex of each of its groups (free indices of a vertex: its degree minus
    the edges inside ``order``)."""
    T = st.basic(nodes[order[0]])
    verts = [order[0]] if nodes[order[0]][1] else []
    for k in range(1, len(order)):
        v = order[k]
        cs = tuple(A[v][w] for w in verts)
        lab = nodes[v]
        T2 = st.contract(st.basic(lab), T, cs)
        left = lab[1] - sum(cs)
        verts = ([v] if left else []) + [w for w, s, c in zip(verts, T.sizes, cs) if s > c]
        T = T2
        used[T.key] = T
    return T, verts


@functools.lru_cache(maxsize=None)
def _basis_lists(level: int, K: int):
    graphs = _graphs(level, K)
    st = _Store()
    basic_labels = sorted({lab for nodes, _ in graphs for lab in nodes})
    for lab in basic_labels:
        st.basic(lab)
    used: dict = {}  # tensors of the basis, in creation order
    comp_key = {}  # canonical connected graph -> key of its scalar
    for nodes, adj in graphs:
        A = _matrix(nodes, adj)
        if len(nodes) == 1:
            comp_key[(nodes, adj)] = ("B",) + nodes[0]
            continue
        if len(_components(A)) != 1:
            continue
        split = _split(A)
        if split is None:
            T, _ = _chain(st, used, nodes, A, _removal_order(A, range(len(nodes))))
        else:
            (TP, gP), (TQ, gQ) = (_chain(st, used, nodes, A, _removal_order(A, part)) for part in split)
            T = st.pair(TP, TQ, [[A[u][w] for w in gQ] for u in gP])
            used[T.key] = T
        comp_key[(nodes, adj)] = T.key

    scalars = []
    for nodes, adj in graphs:
        A = _matrix(nodes, adj)
        comps = _components(A)
        if len(comps) == 1:
            scalars.append(st.tensors[comp_key[(nodes, adj)]])
            continue
        keys = []
        for c in comps:
            sub_nodes = tuple(nodes[i] for i in c)
            sub_adj = tuple(A[c[x]][c[y]] for x, y in _pairs(len(c)))
            keys.append(comp_key[(sub_nodes, _canonical(sub_nodes, sub_adj))])
        keys.sort(key=lambda k: (st.tensors[k].labels, repr(k)), reverse=True)
        acc = st.tensors[keys[0]]
        for k in keys[1:]:
            acc = st.product([acc.key, k])
            used[acc.key] = acc
        scalars.append(acc)

    basic = []
    final: dict = {}
    for lab in basic_labels:
        T = st.tensors[("B",) + lab]
        for comp in sorted(T.comps, key=_comp_sort_key):
            final[T.comps[comp]] = len(basic)
            basic.append(st.basic_of[T.comps[comp]])
    times = []
    count = len(basic)
    for T in sorted(used.values(), key=_tensor_sort_key):
        for comp in sorted(T.comps, key=_comp_sort_key):
            s = T.comps[comp]
            if s in final:
                continue
            final[s] = count
            for (a, b), m in st.rows[s]:
                i, j = final[a], final[b]
                if T.same:
                    i, j = min(i, j), max(i, j)
                times.append((i, j, m, count))
            count += 1
    mapping = sorted(final[T.comps[()]] for T in scalars)
    if len(set(mapping)) != len(graphs):
        raise AssertionError("internal error: two basis functions share a slot")
    return tuple(basic), tuple(times), tuple(mapping), count



def generate_basis(level: int, species_count: int = 1, min_dist: float = 2.0,
                   max_dist: float = 5.0, radial_basis_size: int = 8,
                   radial_funcs_count: int | None = None) -> dict:
    """The untrained MTP moment basis of ``level`` (any level >= 2; templates exist for 2..28).

    ``species_count``, ``min_dist``, ``max_dist`` and ``radial_basis_size`` do
    not change the moment basis; they are accepted so that callers can pass
    one set of template parameters (see :func:`basis_to_mtp_text`).
    ``radial_funcs_count`` (K) defaults to the MLIP-2 rule
    ``min(6, (level - 2) // 4 + 1)``; a given K limits the radial index mu < K.

    Returns a dict with ``alpha_moments_count`` (int), ``alpha_index_basic``
    (int array (nb, 4): mu, a, b, c), ``alpha_index_times`` (int array (nt, 4):
    i, j, m, k meaning ``mom[k] += m * mom[i] * mom[j]``, applied in order),
    ``alpha_moment_mapping`` (int array (S,)) and ``radial_funcs_count`` (K).
    """
    level = int(level)
    if level < 2:
        raise ValueError(f"MTP level must be >= 2, got {level}")
    K = default_radial_funcs_count(level) if radial_funcs_count is None else int(radial_funcs_count)
    if K < 1:
        raise ValueError(f"radial_funcs_count must be >= 1, got {K}")
    basic, times, mapping, count = _basis_lists(level, K)
    return {
        "alpha_moments_count": int(count),
        "alpha_index_basic": np.array(basic, dtype=np.int64).reshape(-1, 4),
        "alpha_index_times": np.array(times, dtype=np.int64).reshape(-1, 4),
        "alpha_moment_mapping": np.array(mapping, dtype=np.int64),
        "radial_funcs_count": int(K),
    }


# ---------------------------------------------------------------------------
# evaluation (for checks) and the .mtp text
# ---------------------------------------------------------------------------


def evaluate_moments(basis: dict, unit_vectors: np.ndarray, radial: np.ndarray) -> np.ndarray:
    """Values of all moment slots.

    ``unit_vectors`` (..., n, 3): neighbour directions; ``radial`` (..., n, K):
    the values f_mu(r_j). Leading dimensions are neighbourhoods. Returns an
    array (..., alpha_moments_count).
    """
    u = np.asarray(unit_vectors, dtype=float)
    f = np.asarray(radial, dtype=float)
    batch = u.shape[:-2]
    u = u.reshape((-1,) + u.shape[-2:])
    f = f.reshape((u.shape[0], u.shape[1], -1))
    mom = np.zeros((int(basis["alpha_moments_count"]), u.shape[0]))
    for s, (mu, a, b, c) in enumerate(np.asarray(basis["alpha_index_basic"]).tolist()):
        mom[s] = np.sum(f[:, :, mu] * u[:, :, 0] ** a * u[:, :, 1] ** b * u[:, :, 2] ** c, axis=1)
    times = np.asarray(basis["alpha_index_times"], dtype=np.int64).reshape(-1, 4)
    # Rows only read finished slots, so all rows of one dependency depth can be
    # applied at once (same result as applying them one by one, in order).
    depth = np.zeros(mom.shape[0], dtype=np.int64)
    row_depth = np.empty(len(times), dtype=np.int64)
    for r, (i, j, _, k) in enumerate(times.tolist()):
        dk = max(depth[i], depth[j]) + 1
        depth[k] = max(depth[k], dk)
        row_depth[r] = dk
    for dk in np.unique(row_depth):
        rows = times[row_depth == dk]
        np.add.at(mom, rows[:, 3], rows[:, 2, None] * mom[rows[:, 0]] * mom[rows[:, 1]])
    return mom.T.reshape(batch + (mom.shape[0],))


def _brace(rows) -> str:
    return "{" + ", ".join("{" + ", ".join(str(int(x)) for x in row) + "}" for row in rows) + "}"


def basis_to_mtp_text(basis: dict, species_count: int = 1, min_dist: float = 2.0,
                      max_dist: float = 5.0, radial_basis_size: int = 8,
                      name: str = "MTP1m") -> str:
    """The untrained ``.mtp`` text (MLIP-2 format, no coefficients) of a basis dict."""
    basic = np.asarray(basis["alpha_index_basic"]).reshape(-1, 4)
    times = np.asarray(basis["alpha_index_times"]).reshape(-1, 4)
    mapping = np.asarray(basis["alpha_moment_mapping"]).reshape(-1)
    lines = [
        "MTP",
        "version = 1.1.0",
        f"potential_name = {name}",
        f"species_count = {int(species_count)}",
        "potential_tag = ",
        "radial_basis_type = RBChebyshev",
        f"\tmin_dist = {float(min_dist):.15e}",
        f"\tmax_dist = {float(max_dist):.15e}",
        f"\tradial_basis_size = {int(radial_basis_size)}",
        f"\tradial_funcs_count = {int(basis['radial_funcs_count'])}",
        f"alpha_moments_count = {int(basis['alpha_moments_count'])}",
        f"alpha_index_basic_count = {basic.shape[0]}",
        f"alpha_index_basic = {_brace(basic.tolist())}",
        f"alpha_index_times_count = {times.shape[0]}",
        f"alpha_index_times = {_brace(times.tolist())}",
        f"alpha_scalar_moments = {mapping.size}",
        "alpha_moment_mapping = {" + ", ".join(str(int(x)) for x in mapping) + "}",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """``python -m seimd.mtp.basis LEVEL [-o FILE]``: write an untrained .mtp."""
    p = argparse.ArgumentParser(prog="python -m seimd.mtp.basis",
                                description="Write the untrained MTP basis of a level (MLIP-2 .mtp text).")
    p.add_argument("level", type=int, help="MTP level (templates exist for 2..28)")
    p.add_argument("-o", "--output", default="-", help="output file (default: stdout)")
    p.add_argument("--species", "--species-count", dest="species", type=int, default=1)
    p.add_argument("--min-dist", type=float, default=2.0, help="inner edge of the radial basis, A")
    p.add_argument("--max-dist", type=float, default=5.0, help="cutoff, A")
    p.add_argument("--radial-basis-size", type=int, default=8)
    p.add_argument("--radial-funcs-count", type=int, default=None)
    p.add_argument("--name", default=None, help="potential_name (default levelNN)")
    args = p.parse_args(argv)
    basis = generate_basis(args.level, radial_funcs_count=args.radial_funcs_count)
    text = basis_to_mtp_text(basis, species_count=args.species, min_dist=args.min_dist,
                             max_dist=args.max_dist, radial_basis_size=args.radial_basis_size,
                             name=args.name or f"level{args.level:02d}")
    if args.output == "-":
        sys.stdout.write(text)
    else:
        Path(args.output).write_text(text)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
