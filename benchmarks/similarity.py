"""The similarity check against disguised copies and independent solutions.

    python -m benchmarks --only similarity          # the table (also in the README)
    python -m benchmarks.similarity --write-common  # rebuild autograder/instructor/similarity_common.json

**Copies**: each original (the reference solution, every style of
``tests/alternatives`` and of ``tests/similarity_corpus``, two solutions
written close to the lecture: minibatch loop, max-shifted softmax) disguised by each kind of ``tests/test_similarity.py``
(``DISGUISES``), two seeds each, compared with its original. **Independent
pairs**: every pair of files by different authors among the reference, its
single-bug variants (``tests/test_buggy_variants.py``; one author with the
reference) and the other styles. Every pair is compared on its own
(no class-wide ``--max-share``), the release skeleton subtracted and the code
the *other* authors share (fingerprints found in at least two of them:
leave-the-pair-out, as the shipped ``similarity_common.json`` is for a class
that wrote none of its corpus). Scores: the smaller and the larger side of each
pair (the fraction of that side's own code matched in the other); a pair is
flagged when the larger reaches the threshold.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from functools import lru_cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from autograder.instructor import similarity  # noqa: E402

SOLUTION = ROOT / "solution" / "mlp_backprop" / "mlp.py"
RELEASE = ROOT / "assignment" / "mlp_backprop" / "mlp.py"
ALTERNATIVES = ROOT / "tests" / "alternatives"
#: independent styles written for this benchmark only (close to the lecture: the hard case)
STYLES = ROOT / "tests" / "similarity_corpus"
SEEDS = (1, 2)


def corpus() -> dict[str, dict[str, str]]:
    """author -> {file name -> source}: the reference with its single-bug variants, each alternative style."""
    from conftest import mutate
    from test_buggy_variants import VARIANTS

    solution = SOLUTION.read_text()
    authors = {"reference": {"reference": solution}}
    authors["reference"].update({f"bug:{name}": mutate(solution, VARIANTS[name][0]) for name in sorted(VARIANTS)})
    for path in sorted(ALTERNATIVES.glob("*.py")) + sorted(STYLES.glob("*.py")):
        authors[path.stem] = {path.stem: path.read_text()}
    return authors


def write_common(path: Path = similarity.COMMON_FILE) -> int:
    """Write the shipped fingerprints of the code at least two authors of the corpus share."""
    keep = similarity.interface_names([RELEASE.read_text()])
    hashes = similarity.shared_kgrams({a: list(files.values()) for a, files in corpus().items()}, keep=keep)
    path.write_text(json.dumps({"k": similarity.K, "normalisation": similarity.NORMALISATION,
                                "about": "k-gram hashes (blake2b, 8 bytes) of normalised code found in at least two "
                                         "independent solutions of mlp_backprop: subtracted by mlp-grade similarity",
                                "hashes": sorted(f"{h:016x}" for h in hashes)}, indent=0) + "\n")
    return len(hashes)


def _stats(values: list[float]) -> str:
    if not values:
        return "–"
    values = sorted(values)
    return (f"{values[0]:.2f} / {statistics.median(values):.2f} / {values[-1]:.2f}")


def run(args=None) -> dict:
    from test_similarity import DISGUISES

    authors = corpus()
    skeleton = RELEASE.read_text()
    keep = similarity.interface_names([skeleton])
    threshold = similarity.THRESHOLD

    @lru_cache(maxsize=None)
    def common(left_out: frozenset, rewrite: bool) -> frozenset:
        rest = {a: list(files.values()) for a, files in authors.items() if a not in left_out}
        return frozenset(similarity.shared_kgrams(rest, keep=keep, rewrite=rewrite))

    def score(a: str, b: str, left_out: frozenset, rewrite: bool = True, subtract: bool = True) -> tuple:
        report = similarity.compare({"a": a, "b": b}, [skeleton], rewrite=rewrite,
                                    common=common(left_out, rewrite) if subtract else ())
        pair = report.pairs[0] if report.pairs else None
        if pair is None:
            return 0.0, 0.0, False
        return min(pair.score_a, pair.score_b), pair.score, pair.flagged

    settings = {"this check": {}, "no canonical form": {"rewrite": False}, "no shared code subtracted": {"subtract": False}}
    rows, figures = [], {}

    def summarise(label: str, key: str, found: dict[str, list[tuple]], side: int, side_name: str) -> None:
        """One table row and one figures entry from each setting's (smaller score, larger score, flagged) results;
        ``side`` picks the score shown (0: the smaller side's, 1: the larger side's)."""
        row = [label, len(found["this check"])]
        for setting in settings:
            row += [f"{sum(r[2] for r in found[setting])}", _stats([r[side] for r in found[setting]])]
        rows.append(row)
        figures[key] = {s: {"flagged": sum(r[2] for r in found[s]), "pairs": len(found[s]),
                            side_name: sorted(round(r[side], 3) for r in found[s])} for s in settings}
    originals = {name: text for files in authors.values() for name, text in files.items() if not name.startswith("bug:")}
    author_of = {name: a for a, files in authors.items() for name in files}
    for kind, make in DISGUISES.items():
        found = {s: [] for s in settings}
        for name, text in originals.items():
            for seed in SEEDS:
                copy = make(text, seed)
                for setting, options in settings.items():
                    found[setting].append(score(text, copy, frozenset([author_of[name]]), **options))
        summarise(f"copy: {kind}", kind, found, 0, "smaller_side")
    files = [(a, name, text) for a, fs in authors.items() for name, text in fs.items()]
    groups = {"independent: styles × styles": lambda x, y: not x[1].startswith("bug:") and not y[1].startswith("bug:"),
              "independent: single-bug × styles": lambda x, y: x[1].startswith("bug:") or y[1].startswith("bug:")}
    worst = []
    for group, member in groups.items():
        found = {s: [] for s in settings}
        for i, x in enumerate(files):
            for y in files[i + 1:]:
                if x[0] == y[0] or not member(x, y):
                    continue
                for setting, options in settings.items():
                    result = score(x[2], y[2], frozenset([x[0], y[0]]), **options)
                    found[setting].append(result)
                    if setting == "this check":
                        worst.append((result[1], x[1], y[1]))
        summarise(group, group, found, 1, "larger_side")
    header = ["pairs", "n"]
    for setting in settings:
        header += [f"flagged ({setting})", "score min / median / max"]
    print(f"threshold {threshold:.0%} of one side's own code; copies: the smaller side's score, independent pairs: "
          "the larger side's (the one that decides a flag)")
    widths = [max(len(str(r[i])) for r in rows + [header]) for i in range(len(header))]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(header, widths)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print("| " + " | ".join(str(c).ljust(w) for c, w in zip(row, widths)) + " |")
    worst.sort(reverse=True)
    print("closest independent pairs: " + ", ".join(f"{a} / {b} {s:.2f}" for s, a, b in worst[:5]))
    figures["closest_independent"] = [[a, b, round(s, 3)] for s, a, b in worst[:10]]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.similarity", description=__doc__.splitlines()[0])
    parser.add_argument("--write-common", action="store_true", help="rebuild the shipped fingerprints")
    args = parser.parse_args()
    if args.write_common:
        print(f"{write_common()} fingerprints written to {similarity.COMMON_FILE}")
    else:
        run(args)


if __name__ == "__main__":
    main()
