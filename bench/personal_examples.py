"""Personal examples (the user's corrections): do they teach, and do they leave the rest alone?

Two measurements, with the project's real classifier and MiniLM:

1. Teaching: a team whose word "migrate" means a one-line change labels ten "migrate ..." requests
   edit/easy (`kilo route --teach edit/easy ...`); then new, similar (not identical) "migrate ..."
   requests are classified with and without those ten personal examples.
2. No harm: a hundred unrelated personal examples (ten other team conventions, ten requests each,
   e.g. "quick question" meaning a hard explanation, "ship X" meaning an easy deploy) are added, and
   the dev sets are measured with and without them: task and difficulty accuracy, under-routing.
   The real-prompt set (../shared/data/real_prompts_dev.jsonl, outside the repo) is measured when
   present; its texts are never printed.

    python bench/personal_examples.py            # both, human-readable
    python bench/personal_examples.py --json
    python bench/personal_examples.py --sweep    # the same under other PERSONAL_* parameters

The texts below are hand-written for this bench (none comes from the real-prompt file); the tests
import them (tests/e2e/routing/test_personal.py).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
for _path in (REPO, REPO / "bench"):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

# -- the team convention that is taught ----
MIGRATE_LABEL = ("edit", "easy")
MIGRATE_TEACH = (
    "migrate the users table",
    "migrate the orders table to the new column name",
    "migrate the sessions table, it needs the created_at index",
    "migrate the accounts schema to v2",
    "migrate the invoices table to use the new enum",
    "migrate the products table to the renamed field",
    "migrate the audit log table",
    "migrate the payments schema to the latest version",
    "migrate the customers table to add the email column",
    "migrate the inventory table to the new type",
)
MIGRATE_NEW = (
    "migrate the subscriptions table to the new column",
    "please migrate the shipments schema to v3",
    "migrate the refunds table to the new enum type",
    "can you migrate the coupons table",
    "migrate the notifications table to the renamed status field",
    "migrate the vendors schema to the latest version please",
)

# -- a hundred unrelated corrections: ten other conventions, ten requests each ----
_CONVENTIONS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "explain",
        "hard",
        "quick question: how does {} work",
        (
            "the epoll loop in our gateway",
            "raft leader election in the scheduler",
            "the copy-on-write btree in storage",
            "the jit inliner",
            "our vector clock merge",
            "the lock-free queue in ingest",
            "the bloom filter sizing in dedupe",
            "the consistent hashing ring",
            "the gc write barrier in our runtime",
            "the mvcc snapshot isolation in the ledger",
        ),
    ),
    (
        "ops",
        "easy",
        "ship {}",
        (
            "the billing worker",
            "search-api to staging",
            "the nightly exporter",
            "pricing service v14",
            "the thumbnailer",
            "auth-proxy to prod",
            "the mailer cron",
            "the geo lookup lambda",
            "ledger-sync",
            "the feature flag service",
        ),
    ),
    (
        "edit",
        "easy",
        "tidy {}",
        (
            "helpers/strings.ts",
            "the imports in cli/main.go",
            "views/dashboard.vue",
            "the Makefile targets",
            "lib/cache.rb",
            "the constants in config.py",
            "src/hooks/useCart.js",
            "the enum names in status.rs",
            "templates/base.html",
            "the error messages in validate.php",
        ),
    ),
    (
        "plan",
        "medium",
        "spike on {}",
        (
            "replacing celery with a lighter queue",
            "moving the monorepo to bazel",
            "offline mode for the mobile app",
            "multi-region reads",
            "a plugin system for the editor",
            "dropping the legacy soap endpoints",
            "server-side rendering for the storefront",
            "sharding the events store",
            "a self-serve data export",
            "per-tenant rate limits",
        ),
    ),
    (
        "review",
        "easy",
        "sanity check {} before I merge",
        (
            "the new logging format",
            "this regex for postcodes",
            "my rename of the payment hooks",
            "the dockerignore change",
            "the updated eslint rules",
            "the copy change on the signup page",
            "my fix for the off-by-one in paging",
            "the timeout bump in the client",
            "the new index on orders",
            "the tweak to the retry backoff",
        ),
    ),
    (
        "ops",
        "easy",
        "bump {}",
        (
            "lodash",
            "the node image to 22",
            "numpy in requirements",
            "the terraform aws provider",
            "react-query to v5",
            "the postgres chart",
            "golangci-lint in CI",
            "serde to the latest",
            "the rails gem",
            "the base alpine image",
        ),
    ),
    (
        "test",
        "medium",
        "cover {}",
        (
            "parse_duration with table tests",
            "the checkout reducer",
            "the webhook signature check",
            "the csv importer edge cases",
            "PermissionService.can_edit",
            "the slugify helper",
            "the retry wrapper",
            "the invoice totals calculation",
            "the jwt refresh flow",
            "the pagination cursor encoder",
        ),
    ),
    (
        "docs",
        "medium",
        "write up {}",
        (
            "the on-call runbook for the queue",
            "how the release train works",
            "the new auth flow for partners",
            "our branching model",
            "the data retention policy",
            "the local dev setup",
            "the public webhook events",
            "the feature flag conventions",
            "the incident from tuesday",
            "the api versioning rules",
        ),
    ),
    (
        "debug",
        "hard",
        "why is {} flaky",
        (
            "the checkout e2e test",
            "test_concurrent_writes",
            "the websocket reconnect spec",
            "the upload integration test",
            "the cache warmup job",
            "the ios snapshot tests",
            "the kafka consumer test",
            "the timezone report test",
            "the login cypress test",
            "the grpc streaming test",
        ),
    ),
    (
        "generate",
        "easy",
        "scaffold {}",
        (
            "a settings page",
            "a new fastapi router for tags",
            "a react form for addresses",
            "a cobra subcommand for export",
            "a django admin for coupons",
            "an express route for health",
            "a vue component for the avatar",
            "a rust cli with clap",
            "a spring controller for reports",
            "a flask blueprint for webhooks",
        ),
    ),
)
UNRELATED: tuple[tuple[str, str, str], ...] = tuple(
    (template.format(filler), task, difficulty)
    for task, difficulty, template, fillers in _CONVENTIONS
    for filler in fillers
)


def personal(items: Sequence[tuple[str, str, str]], start: int = 1) -> list[Any]:
    """(text, task, difficulty) -> PersonalExample rows, all recorded now (weight 1)."""
    from kilocli.routing.personal import PersonalExample

    return [PersonalExample(start + i, t, task, d) for i, (t, task, d) in enumerate(items)]


def personalised(base: Any, items: Sequence[tuple[str, str, str]]) -> Any:
    from kilocli.routing.classifier import embed_texts

    examples = personal(items)
    return base.personalised(examples, embed_texts(base.encoder, [e.text for e in examples]))


# -- measuring ----
def teaching(base: Any) -> dict[str, Any]:
    taught = personalised(base, [(t, *MIGRATE_LABEL) for t in MIGRATE_TEACH])
    rows = []
    for text in MIGRATE_NEW:
        before, after = base.classify([text]), taught.classify([text])
        rows.append(
            {
                "prompt": text,
                "without": f"{before.task}/{before.difficulty}",
                "with": f"{after.task}/{after.difficulty}",
            }
        )
    want = "/".join(MIGRATE_LABEL)
    return {
        "label": want,
        "rows": rows,
        "as_taught_without": sum(r["without"] == want for r in rows),
        "as_taught_with": sum(r["with"] == want for r in rows),
        "task_as_taught_with": sum(r["with"].split("/")[0] == MIGRATE_LABEL[0] for r in rows),
    }


# the real-prompt set beside the repository (a worktree sits one level deeper than a checkout)
REAL_CANDIDATES = (
    REPO.parent / "shared" / "data" / "real_prompts_dev.jsonl",
    REPO.parent.parent / "shared" / "data" / "real_prompts_dev.jsonl",
)


def dev_sets(real: Path | None = None) -> list[tuple[str, Path]]:
    from route_quality import DEFAULT_SETS

    sets = [(s.name, s.path) for s in DEFAULT_SETS if s.name != "real_prompts"]
    found = real or next((p for p in REAL_CANDIDATES if p.is_file()), None)
    return ([("real_prompts", found)] if found and found.is_file() else []) + sets


_BASE_PREDICTIONS: dict[tuple[int, str], Any] = {}


def measure_set(classifier: Any, items: Sequence[Any]) -> dict[str, float]:
    from route_quality import lenient_accuracy, lenient_under_routing_rate

    preds = []
    for item in items:
        key = (id(classifier), item.id)  # the built-in classifier's answers are reused in --sweep
        if not classifier.personal and key in _BASE_PREDICTIONS:
            preds.append(_BASE_PREDICTIONS[key])
            continue
        preds.append(classifier.classify(list(item.turns)))
        if not classifier.personal:
            _BASE_PREDICTIONS[key] = preds[-1]
    diffs = [p.difficulty for p in preds]
    return {
        "task_accuracy": lenient_accuracy([i.tasks for i in items], [p.task for p in preds]),
        "difficulty_accuracy": lenient_accuracy([i.difficulties for i in items], diffs),
        "under_routing_rate": lenient_under_routing_rate([i.difficulties for i in items], diffs),
    }


def no_harm(base: Any, sets: Sequence[tuple[str, Path]]) -> dict[str, Any]:
    from route_quality import load_dev_set

    with_unrelated = personalised(base, UNRELATED)
    out: dict[str, Any] = {}
    for name, path in sets:
        items = load_dev_set(path)
        without, with_ = measure_set(base, items), measure_set(with_unrelated, items)
        out[name] = {
            "n": len(items),
            "without": without,
            "with": with_,
            "drop_points": {k: round(100 * (without[k] - with_[k]), 2) for k in without},
        }
    return out


def base_classifier() -> Any:
    from kilocli.config import get_paths
    from kilocli.routing.classifier import Classifier
    from kilocli.routing.encoder import load_encoder

    paths = get_paths()
    return Classifier.load(load_encoder(paths), paths.cache_dir)


def _format(report: dict[str, Any]) -> str:
    t = report["teaching"]
    lines = [
        f"teaching: 10 corrections '{MIGRATE_TEACH[0]}'-like -> {t['label']}; "
        f"{len(t['rows'])} new similar requests",
    ]
    for row in t["rows"]:
        lines.append(f"  {row['without']:>16} -> {row['with']:<16} {row['prompt']}")
    lines.append(
        f"  routed as taught: {t['as_taught_without']} without, {t['as_taught_with']} with "
        f"(task as taught with: {t['task_as_taught_with']})"
    )
    lines.append("no harm: 100 unrelated personal examples, without -> with them")
    lines.append(f"  {'set':<22}{'n':>5}  {'task':>16}  {'difficulty':>16}  {'under-routing':>16}")
    for name, r in report["no_harm"].items():
        cells = []
        for key in ("task_accuracy", "difficulty_accuracy", "under_routing_rate"):
            a, b = 100 * r["without"][key], 100 * r["with"][key]
            cells.append(f"{a:5.1f} -> {b:5.1f}%")
        lines.append(f"  {name:<22}{r['n']:>5}  " + "  ".join(f"{c:>16}" for c in cells))
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--sweep", action="store_true", help="also under other PERSONAL_* parameters"
    )
    parser.add_argument(
        "--params",
        action="append",
        metavar="W,MIN,C",
        help="also under PERSONAL_WEIGHT,PERSONAL_MIN_SIM,PERSONAL_CENTROID_WEIGHT (repeatable)",
    )
    parser.add_argument("--real", type=Path, help="the real-prompt dev set (default: found)")
    args = parser.parse_args(argv)
    from bench_io import print_report

    from kilocli.routing.classifier import centroids as clf  # the module that reads them

    base = base_classifier()
    sets = dev_sets(args.real)
    grid = [(clf.PERSONAL_WEIGHT, clf.PERSONAL_MIN_SIM, clf.PERSONAL_CENTROID_WEIGHT)]
    if args.sweep:
        grid += [(w, m, c) for w in (0.3, 0.5) for m in (0.4, 0.5) for c in (0.0, 1.0)]
    for spec in args.params or []:
        w, m, c = (float(x) for x in spec.split(","))
        grid.append((w, m, c))
    reports = []
    for weight, min_sim, centroid in grid:
        clf.PERSONAL_WEIGHT, clf.PERSONAL_MIN_SIM = weight, min_sim
        clf.PERSONAL_CENTROID_WEIGHT = centroid
        params = {"weight": weight, "min_sim": min_sim, "centroid_weight": centroid}
        reports.append(
            {"params": params, "teaching": teaching(base), "no_harm": no_harm(base, sets)}
        )
    if args.json:
        print_report(json.dumps(reports if len(reports) > 1 else reports[0], indent=2))
        return 0
    for r in reports:
        p = r["params"]
        print_report(
            f"PERSONAL_WEIGHT={p['weight']} PERSONAL_MIN_SIM={p['min_sim']} "
            f"PERSONAL_CENTROID_WEIGHT={p['centroid_weight']}\n{_format(r)}\n"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
