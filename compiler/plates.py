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
* A *run* is a stretch of consecutive indices whose elements have the same arrays, the same
  edges to and from unindexed nodes, and the same relative names for every edge pattern. The
  graphical model's plate is the longest run common to its arrays; the architecture view folds
  every run of at least :data:`MIN_PLATE` layers of each array on its own. The first and last
  layers usually differ (``z[1]`` has no parent layer) and stay outside, drawn as themselves.

:func:`collapse` then draws each array of the plate once (``z[l]``) and each edge pattern as one
edge labelled as the spec states it (``z[<l]``); an edge that holds for only some indices of the
plate says which (``l = 2``). Both the graphical model (:mod:`compiler.render`) and the
architecture view (:mod:`compiler.render_arch`) use it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Callable, Optional

__all__ = ["Plate", "Collapsed", "index_of", "element", "find_plate", "collapse", "relation_text", "parse_layers",
           "select_layers", "mapped_inverse", "MIN_PLATE"]

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
    """Layers drawn once: for each array inside, the runs of indices its representatives stand for.

    Attributes:
        binder: the index variable (from the range statements; "l" if none is known).
        spans: {array: ((low, high), ...)}; the graphical model's plate has one run common to all
            its arrays, the architecture view's a run for every stretch of an array whose
            elements are alike (e.g. one per resolution of a multi-scale decoder).
        relations: {(source array, target array, edge key, target run): relation} for every
            indexed edge pattern into a run ("<l", "l-1", ">=l+1", "*", or a tuple of indices).
    """

    binder: str
    spans: dict = field(hash=False)
    relations: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def arrays(self) -> tuple:
        return tuple(sorted(self.spans))

    @property
    def low(self) -> int:
        return min(lo for runs in self.spans.values() for lo, _ in runs)

    @property
    def high(self) -> int:
        return max(hi for runs in self.spans.values() for _, hi in runs)

    @property
    def label(self) -> str:
        return f"{self.binder} = {self.low}..{self.high}"

    def run_of(self, node: str) -> Optional[tuple]:
        """The run (low, high) whose representative stands for `node`, or None."""
        ix = index_of(node)
        if not ix:
            return None
        return next((r for r in self.spans.get(ix[0], ()) if r[0] <= ix[1] <= r[1]), None)

    def representative(self, array: str, run: tuple) -> str:
        """`z[l]`; `p[l=1..4]` when the array has several runs."""
        if len(self.spans[array]) == 1:
            return element(array, self.binder)
        return element(array, f"{self.binder}={run[0]}..{run[1]}")


@dataclass
class Collapsed:
    """A graph with a plate's layers folded into one representative each.

    Attributes:
        nodes: {drawn id: [the original nodes it stands for]} in drawing order.
        edges: {(a, b, key): (label or None, [the original edges it stands for])}.
        plate: the plate, or None when nothing was folded.
        runs: {representative: (array, (low, high))}.
    """

    nodes: dict
    edges: dict
    plate: Optional[Plate] = None
    runs: dict = field(default_factory=dict)

    def folded(self, node: str) -> bool:
        """`node` is a representative of some layers."""
        return node in self.runs


def _offset(k: int) -> str:
    return "l" if k == 0 else f"l{k:+d}"


def _relations(sources: set, index: int, universe: list) -> frozenset:
    """The names of a set of source indices relative to the target's index `index`.

    Example:
        >>> sorted(_relations({1, 2, 3}, 4, [1, 2, 3, 4, 5]))
        ['<=l-1', '<l', 'l-3..l-1']
    """
    names = set()
    if len(sources) == 1:
        (s,) = sources
        names.add(_offset(s - index))
    top, bottom = max(sources), min(sources)
    if sources == {i for i in universe if i <= top}:  # every index up to one: z[<l], n[<l-1]
        names.update({"<" + _offset(top + 1 - index), "<=" + _offset(top - index)})
    if sources == {i for i in universe if i >= bottom}:  # every index from one on: z[>l], e[>=l+1]
        names.update({">" + _offset(bottom - 1 - index), ">=" + _offset(bottom - index)})
    if sources == set(universe) and len(universe) > 1:
        names.add("*")
    if len(sources) > 1 and top - bottom + 1 == len(sources):  # a window: c[l-1..l]
        names.add(f"{_offset(bottom - index)}..{_offset(top - index)}")
    if not names:
        names.add(tuple(sorted(sources)))  # irregular: only the same absolute set matches
    return frozenset(names)


def _pick(names: frozenset):
    """The simplest name: a single offset, then the shortest range."""
    return min(names, key=lambda n: (isinstance(n, tuple), not str(n).startswith("l"), len(str(n)), str(n)))


def find_plate(nodes, edges: dict, binder: Optional[Callable[[str], Optional[str]]] = None,
               minimum: int = MIN_PLATE, per_array: bool = False) -> Optional[Plate]:
    """The runs of layers with the same structure, or None if no run is long enough.

    Args:
        nodes: the graph's nodes.
        edges: {(a, b): key}: the edges, each with a hashable style key (the model it belongs to);
            edges of different keys are different patterns.
        binder: the index variable's name for a node (from its statement), if known; "l" otherwise.
        minimum: the fewest layers worth folding.
        per_array: find a run for each array on its own (the architecture view, where arrays such
            as a preprocessing cell's cover other indices than the latents); otherwise one run
            common to every array present at its indices (the graphical model's plate).

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
    outgoing: dict = {}
    for (a, b), key in edges.items():
        incoming.setdefault(b, []).append((a, key))
        outgoing.setdefault(a, []).append((b, key))

    def describe(i: int, only: Optional[str]):
        present = frozenset(a for a in arrays if i in arrays[a] and (only is None or a == only))
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

    def uniform_runs(indices: list, only: Optional[str]) -> list:
        """Maximal runs of consecutive indices alike: [(low, high, present, relations)]."""
        runs, start = [], 0
        while start < len(indices):
            present, plain, rel = describe(indices[start], only)
            end = start
            while end + 1 < len(indices) and indices[end + 1] == indices[end] + 1:
                p2, pl2, r2 = describe(indices[end + 1], only)
                if p2 != present or pl2 != plain or r2.keys() != rel.keys():
                    break
                merged = {g: rel[g] & r2[g] for g in rel}
                if not all(merged.values()):
                    break
                rel = merged
                end += 1
            runs.append((indices[start], indices[end], present, rel))
            start = end + 1
        return runs

    spans: dict = {}
    relations: dict = {}
    groups = [(a, universe[a]) for a in sorted(arrays)] if per_array else [
        (None, sorted(set().union(*(set(m) for m in arrays.values()))))]
    for only, indices in groups:
        runs = [r for r in uniform_runs(indices, only) if r[1] - r[0] + 1 >= minimum]
        if not per_array:  # one plate, drawn as one box: the longest run
            runs = sorted(runs, key=lambda r: r[0] - r[1])[:1]
        for low, high, present, rel in runs:
            for a in present:
                spans.setdefault(a, []).append((low, high))
            relations.update({(*g, (low, high)): _pick(r) for g, r in rel.items()})
    if not spans:
        return None
    spans = {a: tuple(runs) for a, runs in spans.items()}
    name = "l"
    if binder is not None:
        for array in sorted(spans):
            found = binder(arrays[array][spans[array][0][0]])
            if found:
                name = found
                break
    return Plate(name, spans, relations)


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

    runs: dict = {}

    def drawn(n: str) -> str:
        run = plate.run_of(n)
        if run is None:
            return n
        rep = plate.representative(index_of(n)[0], run)
        runs[rep] = (index_of(n)[0], run)
        return rep

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
            target, run = runs[b]
            relation = plate.relations.get((index_of(members[0][0])[0], target, key, run))
            if relation is not None and relation != "l":
                label = relation_text(index_of(members[0][0])[0], relation, plate.binder)
        elif rep_a or rep_b:
            low, high = runs[a if rep_a else b][1]
            which = sorted({index_of(m[0] if rep_a else m[1])[1] for m in members})
            if which != list(range(low, high + 1)):
                label = f"{plate.binder} = {_ranges(which)}"
        out_edges[(a, b, key)] = (label, members)
    return Collapsed(out_nodes, out_edges, plate, runs)


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


def parse_layers(text: str) -> tuple:
    """`1..4` -> (1, 4), `3` -> (3, 3).

    Raises:
        ValueError: anything else, or a range whose end is before its start.
    """
    m = re.fullmatch(r"\s*(\d+)\s*(?:\.\.\s*(\d+)\s*)?", text)
    if not m:
        raise ValueError(f"--layers expects FIRST..LAST (e.g. 1..4), got '{text}'")
    low, high = int(m.group(1)), int(m.group(2) or m.group(1))
    if high < low:
        raise ValueError(f"--layers {text}: the last layer is before the first")
    return low, high


def select_layers(nodes, edges: dict, layers: tuple, what: str = "layer"):
    """Keep the layers `layers` of every array; fold the rest of each array into one elision node.

    Returns:
        (nodes, edges, elided): edges into or out of elided layers go to the array's elision node
        (``z[5..16]``), deduplicated; `elided` is the set of elision nodes.

    Raises:
        ValueError: no node has an index in `layers`.
    """
    low, high = layers
    arrays: dict = {}
    for n in nodes:
        ix = index_of(n)
        if ix:
            arrays.setdefault(ix[0], []).append(ix[1])
    if not any(low <= i <= high for idx in arrays.values() for i in idx):
        have = sorted({i for idx in arrays.values() for i in idx})
        if not have:
            raise ValueError(f"--layers {low}..{high}: this model has no indexed {what}s")
        raise ValueError(f"--layers {low}..{high} selects no {what}: the indices are {have[0]}..{have[-1]}")
    mapped = {}
    for n in nodes:
        ix = index_of(n)
        if ix and not low <= ix[1] <= high:
            out = sorted(i for i in arrays[ix[0]] if not low <= i <= high)
            side = [i for i in out if (i < low) == (ix[1] < low)]
            mapped[n] = element(ix[0], f"{side[0]}..{side[-1]}" if len(side) > 1 else side[0])
        else:
            mapped[n] = n
    kept, seen = [], set()
    for n in nodes:
        if mapped[n] not in seen:
            seen.add(mapped[n])
            kept.append(mapped[n])
    new_edges: dict = {}
    for (a, b), key in edges.items():
        a2, b2 = mapped[a], mapped[b]
        if a2 != b2 or a2 == a:
            new_edges.setdefault((a2, b2), key)
    elided = {m for n, m in mapped.items() if m != n}
    return kept, new_edges, elided, mapped


def mapped_inverse(mapped: dict, drawn: str) -> list:
    """The original nodes a node drawn after layer selection stands for."""
    out = [n for n, m in mapped.items() if m == drawn]
    return out or [drawn]
