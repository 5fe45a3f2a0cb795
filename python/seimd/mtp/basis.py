"""Untrained MTP moment bases (the ``alpha_*`` lists of MLIP-2 ``.mtp`` templates).

Written from the MTP formulas (Shapeev 2016; Novikov et al. 2021) and from the
observable structure of MLIP-2 templates; no MLIP code is used.

Objects
-------
* A *label* ``(mu, nu)`` names the basic moment
  ``M[mu,nu] = sum_j f_mu(r_ij) u^a v^b w^c`` over the neighbours' unit vectors
  ``(u, v, w)``, ``a + b + c = nu``: a symmetric tensor of rank ``nu`` and level
  ``2 + 4 mu + nu``. Every stored tensor, basic or derived, is symmetric and is
  kept as its ``(nu+1)(nu+2)/2`` distinct components in the order
  ``(nu,0,0), (nu-1,1,0), (nu-1,0,1), (nu-2,2,0), ...`` (a, then b, descending).
* A *basis function* is a scalar contraction of at most four basic moments,
  described by a multigraph: one vertex per factor, ``m`` parallel edges for
  ``m`` indices contracted between two factors, vertex degree ``nu``, no loops
  (a self-trace of ``M[mu,nu]`` is ``M[mu,nu-2]`` for unit vectors). Its level
  is the sum of its factors' levels.

The rule implemented
--------------------
1. Radial functions ``K = min(6, (level - 2) // 4 + 1)`` (mu < K) and tensor
   ranks ``nu <= 10``. Both caps bind only at levels 26 and 28; they give level
   28 its K = 6 and 866 basic moments.
2. Basis functions: every non-isomorphic loop-free multigraph with 1 to 4
   vertices labelled ``(mu, nu)`` (mu < K, nu <= 10) of vertex degrees ``nu``
   and total level ``<= level``. This reproduces MLIP-2's basis sizes at every
   level: 1, 2, 5, 9, 16, 29, 52, 92, 163, 288, 500, 864, 1464, 2445 for
   levels 2, 4, ..., 28 (an odd level has the basis of the even level below:
   the total rank of a scalar is even). The basic moments are the labels that
   occur (``nu = 0``: ``2 + 4 mu <= level``; ``nu > 0``: ``4 + 4 mu + 2 nu <= level``).
3. Connected functions of ``n >= 2`` factors are evaluated as chains:
   ``T1 = M[v1]``, ``Tk = Sym(contract(M[vk], T(k-1)))`` over the ``dk``
   indices joining ``vk`` to ``v1..v(k-1)``, vertices in non-increasing
   ``(mu, nu)`` order; among the orders this allows (equal labels), those
   whose every step contracts something come first, then larger ``dk``
   earlier. Since intermediates are symmetrised, a tensor is identified by its
   history (labels and ``dk`` of the chain) and equal histories share slots.
   Symmetrisation can make two graphs evaluate to the same function (from
   level 18 on); the generator compares every new function with the earlier
   ones on three fixed random neighbourhoods and, on a clash, uses the
   cheapest other vertex order (fewest new ``times`` rows) with a new value,
   then, for 4 factors, a pairing ``(M.M).(M.M)``, and if needed re-plans an
   earlier function (augmenting path). So the S scalars are S distinct
   functions; their numerical rank equals that of the exact graph invariants
   (S for levels <= 14; S-1, S-2, S-6, S-14, S-33 at 16, 18, 20, 22, 24 from
   identities of 3-d tensors such as Cayley-Hamilton for ``M[0,2]``:
   ``tr A^4`` is a polynomial in ``tr A = M[0,0]``, ``tr A^2``, ``tr A^3``).
4. Disconnected functions are products of their connected components, taken
   one at a time in decreasing order of their (descending) label lists; each
   partial product is itself a basis function.
5. Values and ``m``: slot values are ``w_P * S_P`` with ``S_P`` the true
   symmetric component and integer weights ``w`` (1 for basic moments); a new
   tensor's weights are the least common multiples of the denominators of its
   exact coefficients, so every ``m`` is an integer (e.g. the multinomial
   counts of a full contraction). Rows ``(i, j)`` and ``(j, i)`` of a tensor
   contracted with itself are merged.
6. Order: basic moments by ``(mu, nu)``, then components; derived slots by
   number of factors, then by their descending label list ``s1 >= ... >= sn``
   compared as ``(s1, sn, s2, ..., s(n-1))``, then rank, then history. Times
   rows by result slot, result component and summation index; a row is
   ``{new factor, accumulated tensor, m, result}``. The mapping lists the
   rank-0 slots in slot order.

Agreement with MLIP-2 templates (R = 8)
---------------------------------------
Levels 08 and 10 are reproduced exactly, lists and order (level 10 was
checked against a copy of the MLIP-2 template). K, the basic moments and the
number of basis functions agree at every level. ``alpha_moments_count``
agrees for levels 2-14 and ``alpha_index_times_count`` wherever it is known
up to level 12 (14, 42, 117 at 8, 10, 12). From level 16 on MLIP-2 evaluates
some contractions differently -- the published counts do not pin down how
(no chain order, tie-break or storage variant tried matched levels 16-28
together) -- so these two counts differ:

=====  =======================  ========================
level  moments (MLIP-2)         times (MLIP-2)
=====  =======================  ========================
16     334 (350, -16)           967 (969, -2)
18     663 (718, -55)           2555 (?)
20     1348 (1352, -4)          6923 (6349, +574)
22     2594 (2621, -27)         16789 (?)
24     5037 (4991, +46)         40520 (36170, +4350)
26     9279 (9396, -117)        92104 (?)
28     16831 (17366, -535)      200248 (180069, +20179)
=====  =======================  ========================

Every mapped moment is a full contraction of symmetric tensors, hence
invariant under rotations (and reflections); ``tests/test_basis.py`` checks
this, the counts, the level-08 lists and the numerical ranks.
"""

from __future__ import annotations

import argparse
import collections
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


def _sub(p: tuple[int, int, int], q: tuple[int, int, int]) -> tuple[int, int, int] | None:
    r = (p[0] - q[0], p[1] - q[1], p[2] - q[2])
    return r if min(r) >= 0 else None


def _times_count(a: int, b: int, d: int, same: bool) -> int:
    """Rows of alpha_index_times for contracting rank-b basic with rank-a tensor over d."""
    if same:
        n = _ncomp(a - d)
        return n * (n + 1) // 2 * _ncomp(d)
    return _ncomp(a - d) * _ncomp(b - d) * _ncomp(d)


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


class _Step:
    """One derived tensor: ``Sym(contract(new, acc))`` over ``d`` indices (``d = 0``
    and both scalars: a product)."""

    __slots__ = ("key", "rank", "labels", "new", "acc", "d", "same")

    def __init__(self, key, rank, labels, new, acc, d, same):
        self.key = key  # identity: the evaluation history
        self.rank = rank
        self.labels = labels  # basic labels of all factors, sorted descending
        self.new = new  # key of the first operand (a basic moment for chain steps)
        self.acc = acc  # key of the second operand (the accumulated tensor)
        self.d = d
        self.same = same  # both operands are the same tensor


def _basic_key(label) -> tuple:
    return ("B",) + tuple(label)


def _chain_plan(nodes, A, order) -> list[_Step]:
    """Chain evaluation ``((M[v1] . M[v2]) . M[v3]) ...`` of a connected graph."""
    steps = []
    first = nodes[order[0]]
    acc, rank, labs, hist = _basic_key(first), first[1], [first], ("C", first + (-1,))
    for k in range(1, len(order)):
        v = order[k]
        lab = nodes[v]
        d = sum(A[v][u] for u in order[:k])
        hist = hist + (lab + (d,),)
        labs.append(lab)
        new_rank = rank + lab[1] - 2 * d
        steps.append(_Step(hist, new_rank, tuple(sorted(labs, reverse=True)), _basic_key(lab), acc, d,
                           same=(k == 1 and lab == first)))
        acc, rank = hist, new_rank
    return steps


def _pairs_plan(nodes, A, p, q) -> list[_Step]:
    """Balanced evaluation ``(M[p0] . M[p1]) . (M[q0] . M[q1])`` of a 4-vertex graph."""
    s1 = _chain_plan(nodes, A, p)
    s2 = _chain_plan(nodes, A, q)
    k1, k2 = s1[-1].key, s2[-1].key
    if k2 < k1:
        s1, s2, p, q, k1, k2 = s2, s1, q, p, k2, k1
    d = sum(A[x][y] for x in p for y in q)
    labs = tuple(sorted((nodes[i] for i in tuple(p) + tuple(q)), reverse=True))
    top = _Step(("T", k1, k2, d), s1[-1].rank + s2[-1].rank - 2 * d, labs, k1, k2, d, same=(k1 == k2))
    return s1 + s2 + [top]


@functools.lru_cache(maxsize=None)
def _contract(na: int, wa: tuple[int, ...], nb: int, wb: tuple[int, ...], d: int, same: bool):
    """Rows of ``Y = Sym(contract(X, Z))`` for stored symmetric X (rank na) and Z (rank nb).

    Stored values are ``w * true component``; ``wa``/``wb`` are the operands'
    weights. Returns (weights of Y, rows (out component, X comp, Z comp, m))
    with integer ``m``; Y's weights are the least common multiples of the
    denominators of its exact coefficients. ``same``: X and Z are the same
    tensor, and the rows (i, j), (j, i) are merged.
    """
    r = na + nb - 2 * d
    aidx, bidx = _monomial_index(na), _monomial_index(nb)
    wy = []
    rows = []
    for po, P in enumerate(_monomials(r)):
        # exact coefficient of each (X comp, Z comp) pair, as num / (mP * den)
        terms: dict[tuple[int, int], list[int]] = {}
        mP = _multinomial(P)
        for I in _monomials(na - d):
            J = _sub(P, I)
            if J is None:
                continue
            for Kc in _monomials(d):
                ai, bi = aidx[_add(I, Kc)], bidx[_add(J, Kc)]
                num = _multinomial(I) * _multinomial(J) * _multinomial(Kc)
                den = wa[ai] * wb[bi]
                pair = (min(ai, bi), max(ai, bi)) if same else (ai, bi)
                if pair in terms:
                    n0, d0 = terms[pair]
                    terms[pair] = [n0 * den + num * d0, d0 * den]
                else:
                    terms[pair] = [num, den]
        w = 1
        reduced = []
        for pair, (num, den) in terms.items():
            den *= mP
            g = math.gcd(num, den)
            num, den = num // g, den // g
            reduced.append((pair, num, den))
            w = w * den // math.gcd(w, den)
        wy.append(w)
        for (ai, bi), num, den in reduced:
            if num:
                rows.append((po, ai, bi, num * (w // den)))
    return tuple(wy), tuple(rows)


@functools.lru_cache(maxsize=None)
def _rows_array(rows: tuple) -> tuple[np.ndarray, ...]:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 4)
    return arr[:, 0], arr[:, 1], arr[:, 2], arr[:, 3].astype(float)


def _ones(rank: int) -> tuple[int, ...]:
    return (1,) * _ncomp(rank)


class _Values:
    """Slot values of tensors on a few fixed random neighbourhoods.

    Used to make sure that no two basis functions are the same computation
    (several contraction graphs can collapse onto one symmetrised evaluation).
    """

    def __init__(self, K: int, count: int = 3, neighbours: int = 9, seed: int = 20240611):
        rng = np.random.default_rng(seed)
        u = rng.normal(size=(count, neighbours, 3))
        self.u = u / np.linalg.norm(u, axis=2, keepdims=True)
        self.f = rng.uniform(-1.0, 1.0, size=(count, neighbours, max(K, 1)))
        self.store: dict = {}  # key -> (rank, weights, values (ncomp, count))

    def get(self, key):
        if key not in self.store and key[0] == "B":
            mu, nu = key[1], key[2]
            u, f = self.u, self.f[:, :, mu]
            vals = np.array([np.sum(f * u[:, :, 0] ** a * u[:, :, 1] ** b * u[:, :, 2] ** c, axis=1)
                             for a, b, c in _monomials(nu)])
            self.store[key] = (nu, _ones(nu), vals)
        return self.store[key]

    def plan_value(self, plan: list[_Step]) -> np.ndarray:
        """Normalised values of the plan's final scalar (computing missing tensors)."""
        for s in plan:
            if s.key in self.store:
                continue
            na, wa, xa = self.get(s.new)
            nb, wb, xb = self.get(s.acc)
            wy, rows = _contract(na, wa, nb, wb, s.d, s.same)
            po, ai, bi, m = _rows_array(rows)
            out = np.zeros((len(wy), xa.shape[1]))
            np.add.at(out, po, m[:, None] * xa[ai] * xb[bi])
            self.store[s.key] = (s.rank, wy, out)
        v = self.store[plan[-1].key][2][0]
        norm = np.linalg.norm(v)
        return v / norm if norm > 0 else v


def _slot_sort_key(s: _Step):
    lab = s.labels
    return (len(lab), lab[0], lab[-1]) + tuple(lab[1:-1]) + (s.rank, repr(s.key))


@functools.lru_cache(maxsize=None)
def _basis_structure(level: int, K: int):
    """Graphs, basic labels and derived tensors (in slot order) of a basis; cached."""
    graphs = _graphs(level, K)
    steps: dict = {}
    values = _Values(K)

    def candidates(nodes, A):
        """Evaluation plans of a connected graph, most preferred first."""
        n = len(nodes)
        cands = {}
        for order in itertools.permutations(range(n)):
            plan = _chain_plan(nodes, A, order)
            ds = tuple(s.d for s in plan)
            desc = all(nodes[order[k]] <= nodes[order[k - 1]] for k in range(1, n))
            pref = (0, not desc, ds.count(0), tuple(-d for d in ds), repr(plan[-1].key))
            key = plan[-1].key
            if key not in cands or pref < cands[key][0]:
                cands[key] = (pref, plan)
        if n == 4:  # balanced pairings, only used when every chain collides
            for p in ((0, 1), (0, 2), (0, 3)):
                q = tuple(i for i in range(4) if i not in p)
                plan = _pairs_plan(nodes, A, p, q)
                cands.setdefault(plan[-1].key, ((1, repr(plan[-1].key)), plan))
        return [plan for _, plan in sorted(cands.values(), key=lambda c: c[0])]

    accepted = np.zeros((len(graphs), values.u.shape[0]))  # value vectors, by row
    owner = np.full(len(graphs), -1)  # graph owning each row (-1: free row)
    row_of: dict[int, int] = {}
    assigned: dict[int, list[_Step]] = {}
    options: dict[int, list[_Step]] = {}
    used: collections.Counter = collections.Counter()

    def find(v) -> int | None:
        dots = np.abs(accepted @ v)
        i = int(np.argmax(dots))
        return int(owner[i]) if dots[i] > 1.0 - 1e-9 else None

    def cost(plan):
        """(new times rows, new slots) that a plan would add."""
        ranks = {s.key: s.rank for s in plan}

        def rank(key):
            return key[2] if key[0] == "B" else ranks.get(key, 0)

        new = [s for s in plan if used[s.key] == 0]
        rows = sum(_times_count(rank(s.acc), rank(s.new), s.d, s.same) for s in new)
        return (rows, sum(_ncomp(s.rank) for s in new))

    def assign(g, plan, v):
        if g in assigned:
            used.subtract(s.key for s in assigned[g])
            i = row_of[g]
        else:
            i = len(row_of)
            row_of[g] = i
        assigned[g] = plan
        accepted[i] = v
        owner[i] = g
        used.update(s.key for s in plan)

    def same_value(x, y) -> bool:
        return abs(float(x @ y)) > 1.0 - 1e-9

    def freed(v, visited) -> bool:
        """Is value v free, or can its owner move to another plan (recursively)?"""
        h = find(v)
        if h is None:
            return True
        if h in visited:
            return False
        visited.add(h)
        return move(h, visited, v)

    def move(h, visited, avoid) -> bool:
        """Give graph h another plan whose value is neither its current one nor ``avoid``."""
        current = accepted[row_of[h]].copy()
        for alt in options[h]:
            x = values.plan_value(alt)
            if not (same_value(x, current) or same_value(x, avoid)) and freed(x, visited):
                assign(h, alt, x)
                return True
        return False

    def augment(g, visited) -> bool:
        for plan in options[g]:
            v = values.plan_value(plan)
            if freed(v, visited):
                assign(g, plan, v)
                return True
        return False

    connected = []
    comp_key = {}  # canonical connected graph -> key of its scalar
    for nodes, adj in graphs:
        A = _matrix(nodes, adj)
        if len(nodes) == 1:
            comp_key[(nodes, adj)] = _basic_key(nodes[0])
        elif len(_components(A)) == 1:
            connected.append((nodes, adj, A))

    for g, (nodes, adj, A) in enumerate(connected):
        ranked = options[g] = candidates(nodes, A)
        v = values.plan_value(ranked[0])
        if find(v) is None:
            assign(g, ranked[0], v)
            continue
        free = []
        for plan in ranked[1:]:
            w = values.plan_value(plan)
            if find(w) is None:
                free.append((cost(plan), plan, w))
        if free:
            _, plan, w = min(free, key=lambda c: (c[0], repr(c[1][-1].key)))
            assign(g, plan, w)
            continue
        # every plan collides: find an augmenting path (earlier graphs move to
        # other plans of their own so that this one gets a distinct value)
        if not augment(g, set()):
            raise RuntimeError(f"no distinct evaluation for basis function {nodes} {adj}")

    for g, (nodes, adj, A) in enumerate(connected):
        for s in assigned[g]:
            steps.setdefault(s.key, s)
        comp_key[(nodes, adj)] = assigned[g][-1].key

    def labels_of(key):
        return (key[1:],) if key[0] == "B" else steps[key].labels

    scalars = []  # key of each basis function, graph order
    for nodes, adj in graphs:
        A = _matrix(nodes, adj)
        comps = _components(A)
        if len(comps) == 1:
            scalars.append(comp_key[(nodes, adj)])
            continue
        keys = []
        for c in comps:
            sub_nodes = tuple(nodes[i] for i in c)
            sub_adj = tuple(A[c[x]][c[y]] for x, y in _pairs(len(c)))
            keys.append(comp_key[(sub_nodes, _canonical(sub_nodes, sub_adj))])
        keys.sort(key=lambda k: (labels_of(k), repr(k)), reverse=True)
        acc = keys[0]
        for k in range(1, len(keys)):
            key = ("P",) + tuple(keys[: k + 1])
            if key not in steps:
                labs = tuple(sorted((x for kk in keys[: k + 1] for x in labels_of(kk)), reverse=True))
                steps[key] = _Step(key, 0, labs, keys[k], acc, 0, same=False)
            acc = key
        scalars.append(acc)

    basic_labels = sorted({lab for nodes, _ in graphs for lab in nodes})
    ordered = sorted(steps.values(), key=_slot_sort_key)
    return graphs, basic_labels, ordered, scalars


@functools.lru_cache(maxsize=None)
def _basis_lists(level: int, K: int):
    graphs, basic_labels, ordered, scalars = _basis_structure(level, K)
    basic = []
    offset, weights, ranks = {}, {}, {}
    for lab in basic_labels:
        key = _basic_key(lab)
        offset[key], weights[key], ranks[key] = len(basic), _ones(lab[1]), lab[1]
        basic.extend((lab[0],) + comp for comp in _monomials(lab[1]))
    count = len(basic)
    times = []
    for s in ordered:
        offset[s.key], ranks[s.key] = count, s.rank
        wy, rows = _contract(ranks[s.new], weights[s.new], ranks[s.acc], weights[s.acc], s.d, s.same)
        weights[s.key] = wy
        oa, ob = offset[s.new], offset[s.acc]
        for po, ai, bi, m in rows:
            i, j = oa + ai, ob + bi
            if s.same:
                i, j = min(i, j), max(i, j)
            times.append((i, j, m, count + po))
        count += _ncomp(s.rank)
    mapping = [offset[_basic_key(lab)] for lab in basic_labels if lab[1] == 0]
    mapping += [offset[s.key] for s in ordered if s.rank == 0]
    if len(mapping) != len(graphs) or sorted(mapping) != sorted(offset[k] for k in scalars):
        raise AssertionError("internal error: basis functions and scalar slots disagree")
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
