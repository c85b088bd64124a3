"""What reading a complaint costs the router, per complaint, in this process: the workload's
complaints (Korean texts, the kind mix, places) through

- **kiwi** alone: `Kiwi.tokenize` of the text, the raw tokenizer the classifier builds on
  (its own instance, configured as the router's: no multi-word dictionary, no worker threads);
- **classification**: `Classifier.classify(text, kind)` (normalisation, kiwi, terms, the two
  softmax regressions, the kind checks, the evidence);
- **the whole decision**: `Decider.decide` (classification, place → district, the standard
  answers, the directory's lookup), what the router's `assignment` handler runs per complaint
  before it records anything.

Each complaint is timed alone (`perf_counter_ns`), one after the other, after one warm-up pass;
p50 / p99 / mean in milliseconds, with the bench process's CPU per complaint. Loading the
models (once per process, in the router's worker thread) is reported apart.
"""

from __future__ import annotations

import statistics
import time
from typing import Any

from eungdapso_router.decision import Decider, RoutingModels, Submission
from eungdapso_router.directory import packaged_directory
from eungdapso_schemas.codes import Kind
from eungdapso_schemas.events import Place


def _ms(samples_ns: list[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    pick = lambda p: ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] / 1e6  # noqa: E731
    return {"p50_ms": pick(50), "p99_ms": pick(99), "mean_ms": statistics.fmean(ordered) / 1e6}


def _timed(work: Any, items: list[Any]) -> dict[str, float]:
    for item in items[: min(50, len(items))]:
        work(item)  # warm-up: first calls fill caches
    samples: list[int] = []
    cpu = time.process_time()
    for item in items:
        t = time.perf_counter_ns()
        work(item)
        samples.append(time.perf_counter_ns() - t)
    cpu_s = time.process_time() - cpu
    return {**_ms(samples), "cpu_ms_per_complaint": cpu_s / len(items) * 1000, "n": len(items)}


def submissions(items: list[dict[str, Any]]) -> list[Submission]:
    out = []
    for item in items:
        s = item["submission"]
        place = s.get("place") or None
        out.append(Submission(text=s["text"], kind=Kind(s["kind"]), place=Place(**place) if place else None))
    return out


def routing_cost(items: list[dict[str, Any]]) -> dict[str, Any]:
    from kiwipiepy import Kiwi

    from eungdapso_router.classifier import Classifier

    subs = submissions(items)
    started = time.perf_counter()
    models = RoutingModels()
    loaded = models.get()
    load_s = time.perf_counter() - started
    kiwi = Kiwi(num_workers=0, load_multi_dict=False)
    classifier = loaded.classifier
    assert isinstance(classifier, Classifier)
    decider = Decider(models)
    directory = packaged_directory()
    return {
        "complaints": len(subs),
        "models_load_s": load_s,
        "kiwi_tokenize": _timed(lambda s: kiwi.tokenize(s.text, normalize_coda=True), subs),
        "classify": _timed(lambda s: classifier.classify(s.text, s.kind), subs),
        "decide": _timed(lambda s: decider.decide(s, directory), subs),
    }


def report(r: dict[str, Any]) -> str:
    rows = [
        ("kiwi `tokenize` alone (raw tokenizer)", r["kiwi_tokenize"]),
        ("classification (`Classifier.classify`)", r["classify"]),
        ("whole decision (`Decider.decide`: + place, standard answers, directory)", r["decide"]),
    ]
    lines = [
        "| per complaint, in process | p50 (ms) | p99 (ms) | mean (ms) | CPU (ms) |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {name} | {m['p50_ms']:.2f} | {m['p99_ms']:.2f} | {m['mean_ms']:.2f} "
        f"| {m['cpu_ms_per_complaint']:.2f} |"
        for name, m in rows
    ]
    classify, raw = r["classify"], r["kiwi_tokenize"]
    lines.append(
        f"\n{r['complaints']} workload complaints, one at a time; classification is "
        f"{classify['p50_ms'] / raw['p50_ms']:.1f}x the raw tokenizer at p50; models loaded once in "
        f"{r['models_load_s']:.1f} s"
    )
    return "\n".join(lines)
