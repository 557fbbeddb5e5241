"""Failure classes and the assertion message listing each with its shortest reproducer."""

from .settings import SEED


def _case_text(case):
    return "; ".join(case["stmts"])


def classify(failures):
    """{signature: [case, verdict, count]} keeping the shortest reproducer per class."""
    classes = {}
    for case, v in failures:
        sig = (v["kind"],) + tuple(v.get("sig") or ())
        if v["kind"] in ("crash", "hang", "wrong result", "invalid call accepted",
                         "argument modified",
                         "valid call rejected", "MemoryError for a small valid call"):
            sig += (case["api"],)
        if v["kind"] in ("crash", "hang", "wrong result"):
            sig += tuple(sorted(set(case["tags"])))[:2]
        cur = classes.get(sig)
        if cur is None:
            classes[sig] = [case, v, 1]
        else:
            cur[2] += 1
            if len(_case_text(case)) < len(_case_text(cur[0])):
                cur[0], cur[1] = case, v
    return classes


def report(failures, total):
    """The failures of ``total`` cases, class by class, most frequent first within a kind."""
    classes = classify(failures)
    lines = [(f"{len(failures)} of {total} fuzz cases failed, {len(classes)} classes "
              f"(CONVT_FUZZ_SEED={SEED}; rerun one with `python tests/fuzz --run ID`):")]
    for n, (_, (case, v, count)) in enumerate(sorted(classes.items(), key=lambda kv:
                                                     (kv[0][0], -kv[1][2])), 1):
        lines.append(f"[{n}] {v['kind']} x{count} - case {case['id']} "
                     f"(expected {case['expect']['status']}; mutations {case['tags']})")
        lines.append(f"    {v['detail']}")
        for st in case["stmts"]:
            lines.append(f"      {st}")
    return "\n".join(lines)
