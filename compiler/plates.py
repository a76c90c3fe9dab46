"""Plates: the repeated layers of a hierarchy drawn once, from the graph's index structure.

A spec states its hierarchy with range statements (``posterior z[l in 2..L] | x, z[<l]``);
elaboration expands each into one element per index, and every diagram of the compiled graph
would draw all of them. :func:`find_plate` recovers the range statements' regularity from the
expanded graph alone -- the index of every node (``z[7]`` -> array ``z``, index 7; ``prior(z[7])``
-> array ``prior(z[])``), the same index structure the range-level certificates of
:mod:`compiler.dsep_ranges` read -- with no per-model code:

* For an index ``l`` and an edge into an element ``A[l]`` from the elements of an array ``B``, the
  set of source indices is named relative to ``l`` when it can be: ``{l-1}`` is ``B[l-1]``, every
  index of ``B`` below ``l`` is ``B[<l]`` (also ``<=l``, ``>l``, ``>=l``), every index is ``B[*]``.
* A *plate* is the longest run of consecutive indices whose elements have the same arrays, the
  same edges to and from unindexed nodes, and the same relative names for every edge pattern.
  The first and last layers usually differ (``z[1]`` has no parent layer) and stay outside.

:func:`collapse` then draws each array of the plate once (``z[l]``) and each edge pattern as one
edge labelled as the spec states it (``z[<l]``); an edge that holds for only some indices of the
plate says which (``l = 2``). Both the graphical model (:mod:`compiler.render`) and the
architecture view (:mod:`compiler.render_arch`) use it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Hashable, Optional

__all__ = ["Plate", "Collapsed", "index_of", "element", "find_plate", "collapse", "relation_text", "MIN_PLATE"]

MIN_PLATE = 4  # fewer repeated layers than this are drawn as they are (a 4-layer ladder reads unrolled)

_INDEX = re.compile(r"^(.*?)\[(\d+)\](.*)$")


def index_of(name: str) -> Optional[tuple[str, int]]:
    """`z[7]` -> ("z[]", 7), `prior(z[7])` -> ("prior(z[])", 7), `x` -> None (the first index only)."""
    m = _INDEX.match(name)
    if not m:
        return None
    return f"{m.group(1)}[]{m.group(3)}", int(m.group(2))


def element(array: str, index) -> str:
    """The node of `array` at `index` (an int, or the binder's name for the plate's representative)."""
    return array.replace("[]", f"[{index}]", 1)


@dataclass(frozen=True)
class Plate:
    """A run of layers drawn once: indices `low..high` of `arrays`, bound to `binder`."""

    binder: str
    low: int
    high: int
    arrays: tuple
    relations: dict = field(default_factory=dict, compare=False, hash=False)  # (B, A, key) -> "<l"

    @property
    def indices(self) -> range:
        return range(self.low, self.high + 1)

    @property
    def label(self) -> str:
        return f"{self.binder} = {self.low}..{self.high}"


@dataclass
class Collapsed:
    """A graph with a plate's layers folded into one representative each.

    Attributes:
        nodes: {drawn id: [the original nodes it stands for]} in drawing order.
        edges: {(a, b, key): (label or None, [the original edges it stands for])}.
        plate: the plate, or None when nothing was folded.
    """

    nodes: dict
    edges: dict
    plate: Optional[Plate] = None

    def folded(self, node: str) -> bool:
        """`node` is a representative of the plate's layers."""
        return self.plate is not None and any(node == element(a, self.plate.binder) for a in self.plate.arrays)


def _relations(sources: set, index: int, universe: list) -> frozenset:
    """The names of a set of source indices relative to the target's index `index`."""
    names = set()
    if len(sources) == 1:
        (s,) = sources
        k = s - index
        names.add("l" if k == 0 else f"l{k:+d}")
    for op, test in (("<", lambda i: i < index), ("<=", lambda i: i <= index), (">", lambda i: i > index),
                     (">=", lambda i: i >= index)):
        if sources == {i for i in universe if test(i)}:
            names.add(f"{op}l")
    if sources == set(universe) and len(universe) > 1:
        names.add("*")
    if not names:
        names.add(tuple(sorted(sources)))  # irregular: only the same absolute set matches
    return frozenset(names)


_PREFERENCE = ("l", "l-1", "l+1", "<l", ">l", "<=l", ">=l", "*")


def _pick(names: frozenset):
    for n in _PREFERENCE:
        if n in names:
            return n
    return sorted(names, key=str)[0]


def find_plate(nodes, edges: dict, binder: Optional[Callable[[str], Optional[str]]] = None,
               minimum: int = MIN_PLATE) -> Optional[Plate]:
    """The longest run of layers with the same structure, or None.

    Args:
        nodes: the graph's nodes.
        edges: {(a, b): key}: the edges, each with a hashable style key (the model it belongs to);
            edges of different keys are different patterns.
        binder: the index variable's name for a node (from its statement), if known; "l" otherwise.
        minimum: the fewest layers worth a plate.

    Returns:
        A :class:`Plate` whose relations name every indexed edge pattern into its arrays.
    """
    arrays: dict = {}
    for n in nodes:
        ix = index_of(n)
        if ix:
            arrays.setdefault(ix[0], {})[ix[1]] = n
    if not arrays:
        return None
    universe = {a: sorted(members) for a, members in arrays.items()}
    incoming: dict = {}
    for (a, b), key in edges.items():
        incoming.setdefault(b, []).append((a, key))
    outgoing: dict = {}
    for (a, b), key in edges.items():
        outgoing.setdefault(a, []).append((b, key))

    def describe(i: int):
        present = frozenset(a for a in arrays if i in arrays[a])
        plain, rel = set(), {}
        for array in present:
            n = arrays[array][i]
            groups: dict = {}
            for s, key in incoming.get(n, ()):
                ix = index_of(s)
                if ix is None:
                    plain.add(("in", s, array, key))
                else:
                    groups.setdefault((ix[0], array, key), set()).add(ix[1])
            for t, key in outgoing.get(n, ()):
                if index_of(t) is None:
                    plain.add(("out", array, t, key))
            for g, sources in groups.items():
                rel[g] = _relations(sources, i, universe[g[0]])
        return present, frozenset(plain), rel

    indices = sorted(set().union(*(set(m) for m in arrays.values())))
    best = None
    start = 0
    while start < len(indices):
        present, plain, rel = describe(indices[start])
        end = start
        while end + 1 < len(indices) and indices[end + 1] == indices[end] + 1:
            p2, pl2, r2 = describe(indices[end + 1])
            if p2 != present or pl2 != plain or r2.keys() != rel.keys():
                break
            merged = {g: rel[g] & r2[g] for g in rel}
            if not all(merged.values()):
                break
            rel = merged
            end += 1
        if best is None or end - start > best[1] - best[0]:
            best = (start, end, present, rel)
        start = end + 1 if end > start else start + 1
    lo, hi, present, rel = best
    if hi - lo + 1 < minimum:
        return None
    low, high = indices[lo], indices[hi]
    name = "l"
    if binder is not None:
        for array in sorted(present):
            found = binder(arrays[array][low])
            if found:
                name = found
                break
    return Plate(name, low, high, tuple(sorted(present)), {g: _pick(r) for g, r in rel.items()})


def relation_text(array: str, relation, binder: str) -> str:
    """`z[]` and "<l" -> `z[<l]`; `z[]` and "l-1" -> `z[l-1]`; "*" -> `z[*]`."""
    if isinstance(relation, tuple):
        inner = ",".join(str(i) for i in relation)
    else:
        inner = relation.replace("l", binder)
    return array.replace("[]", f"[{inner}]", 1)


def collapse(nodes, edges: dict, plate: Optional[Plate]) -> Collapsed:
    """Fold the layers of `plate` into one representative each (see the module docstring).

    Args:
        nodes: the graph's nodes, in drawing order.
        edges: {(a, b): key}.
        plate: from :func:`find_plate`; None keeps the graph as it is.

    Returns:
        A :class:`Collapsed` graph. An edge between two representatives carries the relation as
        the spec states it (``z[<l]``), unless it joins elements of the same index (no label); an
        edge between a representative and a node outside that holds for only some of the plate's
        indices is labelled with them (``l = 2``).
    """
    if plate is None:
        return Collapsed({n: [n] for n in nodes}, {(a, b, k): (None, [(a, b)]) for (a, b), k in edges.items()})
    inside = set(plate.arrays)
    span = set(plate.indices)

    def drawn(n: str) -> str:
        ix = index_of(n)
        if ix and ix[0] in inside and ix[1] in span:
            return element(ix[0], plate.binder)
        return n

    out_nodes: dict = {}
    for n in nodes:
        out_nodes.setdefault(drawn(n), []).append(n)
    grouped: dict = {}
    for (a, b), key in edges.items():
        grouped.setdefault((drawn(a), drawn(b), key), []).append((a, b))
    out_edges: dict = {}
    for (a, b, key), members in grouped.items():
        label = None
        rep_a, rep_b = a != members[0][0], b != members[0][1]  # folded ends
        if rep_a and rep_b:
            relation = plate.relations.get((index_of(members[0][0])[0], index_of(members[0][1])[0], key))
            if relation is not None and relation != "l":
                label = relation_text(index_of(members[0][0])[0], relation, plate.binder)
        elif rep_a or rep_b:
            which = sorted({index_of(m[0] if rep_a else m[1])[1] for m in members})
            if set(which) != span:
                label = f"{plate.binder} = {_ranges(which)}"
        out_edges[(a, b, key)] = (label, members)
    return Collapsed(out_nodes, out_edges, plate)


def _ranges(indices: list) -> str:
    """[2, 3, 4, 7] -> "2..4, 7"."""
    parts, run = [], [indices[0]]
    for i in indices[1:]:
        if i == run[-1] + 1:
            run.append(i)
        else:
            parts.append(run)
            run = [i]
    parts.append(run)
    return ", ".join(f"{r[0]}..{r[-1]}" if len(r) > 2 else ", ".join(map(str, r)) for r in parts)
