"""/api/v1/analytics over a real app and database (SQLite and PostgreSQL): numbers against
hand-computed values, labels arriving through the real labeling and feedback APIs, the A/B
verdict on seeded synthetic traffic, drift against a reference, tenant isolation and roles."""

from __future__ import annotations

import math
import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis.core.result import Err

from sentimentops.core.vocabulary import Role
from tests.analytics.conftest import Served, day, log, log_failure
from tests.apps import fastapi_app
from tests.identity.conftest import Factory
from tests.labeling.conftest import Member, ingest, member, project_body

pytestmark = pytest.mark.parametrize("fresh_db_url", ["sqlite", "postgresql"], indirect=True)

BASE = "/api/v1/analytics"
NEG, POS = "negative", "positive"


def _get(client: TestClient, who: Member, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(f"{BASE}/{path}", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _feedback(
    client: TestClient, who: Member, items: list[tuple[str, str, str]], prefix: str = "fb"
) -> None:
    """Feedback (text, right label, version that answered) through the API."""
    body = {
        "items": [
            {
                "idempotency_key": f"{prefix}-{i}",
                "task": "sentiment",
                "label": label,
                "text": text,
                "model_version": version,
            }
            for i, (text, label, version) in enumerate(items)
        ]
    }
    response = client.post("/api/v1/feedback", json=body, headers=who.headers)
    assert response.status_code == 200, response.text
    assert response.json()["created"] == len(items)


def _label_through_queue(
    client: TestClient, curator: Member, annotator: Member, truth: dict[str, str]
) -> None:
    """A project over a dataset of the first two texts, with the rest as gold items; the
    annotator answers every item the queue serves with its right label (overlap 1 resolves)."""
    texts = list(truth)
    dataset = ingest(client, curator, [(t, 1) for t in texts[:2]])
    gold = [{"text": t, "label": truth[t]} for t in texts[2:]]
    created = client.post(
        "/api/v1/labeling/projects",
        json=project_body({"kind": "dataset", "dataset_id": dataset}, [annotator.id], gold=gold),
        headers=curator.headers,
    )
    assert created.status_code == 201, created.text
    project = created.json()["project"]["id"]
    answered = 0
    while True:
        served = client.get(f"/api/v1/labeling/projects/{project}/next", headers=annotator.headers)
        assert served.status_code == 200, served.text
        if served.json()["state"] != "served":
            break
        item = served.json()["item"]
        answer = client.post(
            f"/api/v1/labeling/projects/{project}/items/{item['id']}/annotations",
            json={"label": truth[item["text"]]},
            headers=annotator.headers,
        )
        assert answer.status_code == 201, answer.text
        answered += 1
    assert answered >= 2  # the dataset's two items at least


def test_confusion_matches_hand_computed_values(client: TestClient, factory: Factory) -> None:
    curator = member(factory, "acme", "cura", Role.ML_ENGINEER)
    annotator = member(factory, "acme", "ann", Role.ANNOTATOR)
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    other = member(factory, "umbra", "ot", Role.ANALYST, Role.ML_ENGINEER)
    acme, umbra = curator.account.tenant, other.account.tenant
    t = [f"review number {i} of the film" for i in range(1, 7)]
    at = day(-1)
    log(
        factory,
        acme,
        [
            # v1 (production) on all six texts; v2 (staging) on t1, t2 and t5.
            Served(t[0], "v1", POS, at),
            Served(t[1], "v1", NEG, at),
            Served(t[2], "v1", NEG, at),
            Served(t[3], "v1", NEG, at),
            Served(t[4], "v1", NEG, at),
            Served(t[5], "v1", POS, at),
            Served(t[0], "v2", POS, at, alias="staging"),
            Served(t[1], "v2", POS, at, alias="staging"),
            Served(t[4], "v2", POS, at, alias="staging"),
            # Before the default 30-day window.
            Served(t[0], "v1", NEG, day(-40)),
        ],
    )
    # Another tenant's log and feedback on the same texts change nothing of acme's.
    log(factory, umbra, [Served(x, "v1", POS, at) for x in t])
    _feedback(client, other, [(t[0], NEG, "v1"), (t[1], NEG, "v1")])

    # t1, t2 labelled by annotation, t3, t4 as gold items; t5, t6 (and t3 again, contradicting
    # the project) by feedback on v1's answers.
    _label_through_queue(client, curator, annotator, {t[0]: POS, t[1]: POS, t[2]: NEG, t[3]: NEG})
    _feedback(client, curator, [(t[4], POS, "v1"), (t[5], NEG, "v1"), (t[2], POS, "v1")])

    body = _get(client, analyst, "confusion", task="sentiment")
    v1, v2 = body["versions"]
    # v1, rows = right label, columns = answer (negative, positive):
    #   t3, t4 right; t6 negative answered positive; t2, t5 positive answered negative; t1 right.
    assert v1["model_version"] == "v1"
    assert v1["labels"] == [NEG, POS]
    assert v1["matrix"] == [[2, 1], [2, 1]]
    assert (v1["labelled"], v1["from_labeling"], v1["from_feedback"]) == (6, 4, 2)
    assert v1["accuracy"] == pytest.approx(3 / 6)
    negative, positive = v1["classes"]
    assert negative == {
        "label": NEG,
        "support": 3,
        "predicted": 4,
        "precision": pytest.approx(2 / 4),
        "recall": pytest.approx(2 / 3),
        "f1": pytest.approx(2 * 0.5 * (2 / 3) / (0.5 + 2 / 3)),
    }
    assert positive == {
        "label": POS,
        "support": 3,
        "predicted": 2,
        "precision": pytest.approx(1 / 2),
        "recall": pytest.approx(1 / 3),
        "f1": pytest.approx(0.4),
    }
    assert v1["macro_f1"] == pytest.approx((4 / 7 + 0.4) / 2)
    # v2: t1 and t2 (the project labels every answer on those texts); its answer on t5 is not
    # the one the feedback corrected (that named v1), so it is not labelled.
    assert v2["model_version"] == "v2"
    assert v2["matrix"] == [[0, 0], [0, 2]]
    assert (v2["labelled"], v2["from_labeling"], v2["from_feedback"]) == (2, 2, 0)
    assert v2["accuracy"] == 1.0
    assert v2["classes"][0]["precision"] is None  # never answered negative
    assert v2["classes"][0]["recall"] is None  # never truly negative
    assert v2["macro_f1"] == 1.0  # over the classes that occur

    only_v2 = _get(client, analyst, "confusion", task="sentiment", version="v2")
    assert [v["model_version"] for v in only_v2["versions"]] == ["v2"]
    # A longer window takes in the old v1 answer on t1 (positive, answered negative).
    since = (datetime.now(UTC) - timedelta(days=45)).isoformat()
    wider = _get(client, analyst, "confusion", task="sentiment", since=since)
    assert wider["versions"][0]["matrix"] == [[2, 1], [3, 1]]

    # The other tenant sees its own feedback only: t1, t2 answered positive, right negative.
    theirs = _get(client, other, "confusion", task="sentiment")
    assert [(v["model_version"], v["matrix"]) for v in theirs["versions"]] == [
        ("v1", [[0, 2], [0, 0]])
    ]


def test_disagreeing_labels_are_left_out_and_repeats_count_once(
    client: TestClient, factory: Factory
) -> None:
    curator = member(factory, "acme", "cura", Role.TENANT_ADMIN)
    acme = curator.account.tenant
    x, y, z = "an ambiguous one", "a disputed one", "a clear one"
    log(factory, acme, [Served(x, "v1", POS, day(-1)), Served(y, "v1", POS, day(-1))])
    log(factory, acme, [Served(z, "v1", NEG, day(-1))])
    dataset = ingest(client, curator, [("filler text", 1)])
    # Two projects resolve x differently (as gold items): no single right label.
    for label in (POS, NEG):
        created = client.post(
            "/api/v1/labeling/projects",
            json=project_body(
                {"kind": "dataset", "dataset_id": dataset},
                ["someone"],
                gold=[{"text": x, "label": label}],
            ),
            headers=curator.headers,
        )
        assert created.status_code == 201, created.text
    # Two applications disagree on y's answer; two agree on z's.
    _feedback(client, curator, [(y, NEG, "v1"), (y, POS, "v1"), (z, NEG, "v1"), (z, NEG, "v1")])

    [v1] = _get(client, curator, "confusion", task="sentiment")["versions"]
    assert (v1["labels"], v1["matrix"]) == ([NEG], [[1]])
    assert (v1["labelled"], v1["from_labeling"], v1["from_feedback"]) == (1, 0, 1)


def test_accuracy_over_time_per_version(client: TestClient, factory: Factory) -> None:
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    acme = analyst.account.tenant
    served = [
        Served("early one", "v1", POS, day(-3, 9)),
        Served("early two", "v1", POS, day(-3, 9)),
        Served("early three", "v1", NEG, day(-3, 10)),
        Served("early four", "v1", NEG, day(-3, 11)),
        Served("late one", "v1", POS, day(-1, 9)),
        Served("late two", "v1", POS, day(-1, 15)),
        Served("other task", "v1", POS, day(-1, 9), task="sarcasm"),
    ]
    log(factory, acme, served)
    _feedback(
        client,
        analyst,
        [
            ("early one", POS, "v1"),
            ("early two", POS, "v1"),
            ("early three", NEG, "v1"),
            ("early four", POS, "v1"),
            ("late one", NEG, "v1"),
            ("late two", NEG, "v1"),
        ],
    )

    daily = _get(client, analyst, "accuracy", task="sentiment", bucket="day")
    [series] = daily["series"]
    assert (series["model_version"], series["labelled"], series["correct"]) == ("v1", 6, 3)
    early, late = series["points"]
    assert datetime.fromisoformat(early["start"]) == day(-3, 0)
    assert (early["labelled"], early["correct"], early["accuracy"]) == (4, 3, 0.75)
    # Wilson 95 % for 3 of 4, by hand: centre 0.6441, half-width 0.3266.
    assert early["low"] == pytest.approx(0.3006, abs=1e-4)
    assert early["high"] == pytest.approx(0.9544, abs=1e-4)
    assert datetime.fromisoformat(late["start"]) == day(-1, 0)
    assert (late["labelled"], late["correct"], late["accuracy"]) == (2, 0, 0.0)

    hourly = _get(client, analyst, "accuracy", task="sentiment", bucket="hour")
    starts = [datetime.fromisoformat(p["start"]) for p in hourly["series"][0]["points"]]
    assert starts == [day(-3, 9), day(-3, 10), day(-3, 11), day(-1, 9), day(-1, 15)]


def test_volume_per_task_version_and_alias(client: TestClient, factory: Factory) -> None:
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    acme = analyst.account.tenant
    yesterday, before = day(-1, 10), day(-2, 10)
    log(
        factory,
        acme,
        [
            Served("a", "v1", POS, before),
            Served("b", "v1", NEG, yesterday),
            Served("c", "v1", POS, yesterday),
            Served("d", "v1", POS, yesterday),
            Served("e", "v2", NEG, yesterday, alias="staging"),
            Served("f", "s1", "sarcastic", yesterday, task="sarcasm"),
        ],
    )
    log_failure(factory, acme, alias="staging", texts=3, at=yesterday)
    log_failure(factory, acme, alias=None, texts=2, at=before)

    body = _get(client, analyst, "volume", task="sentiment", bucket="day")
    assert body["predictions"] == 5
    summary = [
        (s["task"], s["model_version"], s["model_alias"], s["predictions"], s["labels"])
        for s in body["series"]
    ]
    assert summary == [
        ("sentiment", "v1", "production", 4, {NEG: 1, POS: 3}),
        ("sentiment", "v2", "staging", 1, {NEG: 1}),
    ]
    v1_points = [
        (datetime.fromisoformat(p["start"]), p["predictions"], p["labels"])
        for p in body["series"][0]["points"]
    ]
    assert v1_points == [(day(-2, 0), 1, {POS: 1}), (day(-1, 0), 3, {NEG: 1, POS: 2})]
    failures = [
        (datetime.fromisoformat(f["start"]), f["model_alias"], f["texts"]) for f in body["failures"]
    ]
    assert failures == [(day(-2, 0), None, 2), (day(-1, 0), "staging", 3)]

    every_task = _get(client, analyst, "volume", bucket="hour")
    assert every_task["task"] is None
    assert every_task["predictions"] == 6
    assert {s["task"] for s in every_task["series"]} == {"sentiment", "sarcasm"}


def _ab_traffic(
    client: TestClient, factory: Factory, who: Member, outcomes: dict[str, list[bool]], seed: int
) -> None:
    """Per alias, one prediction per outcome (right or wrong) in the last ten hours, version
    v-<alias>, latencies 1 … n ms (staging: twice that), every one labelled through feedback."""
    rng = random.Random(seed)  # noqa: S311 - seeded test traffic
    now = datetime.now(UTC)
    served, feedback = [], []
    for alias, rights in outcomes.items():
        scale = 1.0 if alias == "production" else 2.0
        for i, right in enumerate(rights):
            text = f"{alias} text {i}"
            truth = POS if rng.random() < 0.5 else NEG
            answer = truth if right else (NEG if truth == POS else POS)
            at = now - timedelta(minutes=1 + rng.randrange(600))
            served.append(
                Served(text, f"v-{alias}", answer, at, alias=alias, latency_ms=(i + 1) * scale)
            )
            feedback.append((text, truth, f"v-{alias}"))
    log(factory, who.account.tenant, served)
    _feedback(client, who, feedback, prefix=f"ab{seed}")


def _draws(rng: random.Random, rate: float, n: int) -> list[bool]:
    return [rng.random() < rate for _ in range(n)]


def test_ab_finds_a_worse_canary_and_no_difference_between_equals(
    client: TestClient, factory: Factory
) -> None:
    rng = random.Random(17)  # noqa: S311 - seeded: the same draws on every run
    worse = member(factory, "worse", "w", Role.ML_ENGINEER)
    outcomes = {"production": _draws(rng, 0.9, 200), "staging": _draws(rng, 0.6, 200)}
    _ab_traffic(client, factory, worse, outcomes, seed=7)
    log_failure(factory, worse.account.tenant, alias="staging", texts=50, at=day(0, 0))
    log_failure(factory, worse.account.tenant, alias=None, texts=9, at=day(0, 0))

    body = _get(client, worse, "ab", task="sentiment", window="2d")
    production, canary = body["production"], body["canary"]
    assert body["verdict"] == "worse"
    assert body["test"]["name"] == "z"
    assert body["test"]["p_value"] < 0.001
    assert (production["correct"], canary["correct"]) == (
        sum(outcomes["production"]),
        sum(outcomes["staging"]),
    )
    assert body["accuracy_difference"] == pytest.approx(canary["accuracy"] - production["accuracy"])
    assert body["difference_interval"]["high"] < 0
    assert production["accuracy_interval"]["low"] < production["accuracy"]
    assert (production["versions"], canary["versions"]) == (["v-production"], ["v-staging"])
    assert production["labelled"] == production["predictions"] == 200
    # Nearest rank over latencies 1 … 200 ms: P50 is the 100th, P95 the 190th.
    assert (production["latency_p50_ms"], production["latency_p95_ms"]) == (100.0, 190.0)
    assert (canary["latency_p50_ms"], canary["latency_p95_ms"]) == (200.0, 380.0)
    # 50 failed texts against 200 answered; the failures of no model belong to neither arm.
    assert (canary["failed_texts"], canary["error_rate"]) == (50, 0.2)
    assert (production["failed_texts"], production["error_rate"]) == (0, 0.0)

    strict = _get(client, worse, "ab", task="sentiment", window="2d", alpha=0.01)
    assert strict["verdict"] == "worse"

    equal = member(factory, "equal", "e", Role.TENANT_ADMIN)
    # Equal models: 255 of 300 right in each arm, at seeded random positions. (Independent draws
    # at one rate would be called different in 5 % of samples at α = 0.05: that is the test's
    # false-positive rate, not an equal pair.)
    outcomes = {alias: [True] * 255 + [False] * 45 for alias in ("production", "staging")}
    for rights in outcomes.values():
        rng.shuffle(rights)
    _ab_traffic(client, factory, equal, outcomes, seed=11)
    same = _get(client, equal, "ab", task="sentiment", window="24h")
    assert same["verdict"] == "no_significant_difference"
    assert same["test"]["p_value"] == pytest.approx(1.0)
    assert same["accuracy_difference"] == 0.0
    low, high = same["difference_interval"]["low"], same["difference_interval"]["high"]
    assert low < 0 < high


def test_ab_with_few_labels_uses_fisher_or_says_not_enough(
    client: TestClient, factory: Factory
) -> None:
    small = member(factory, "small", "s", Role.ANALYST)
    outcomes = {"production": [True] * 10, "staging": [True] * 2 + [False] * 8}
    _ab_traffic(client, factory, small, outcomes, seed=3)
    body = _get(client, small, "ab", task="sentiment", window="12h")
    assert body["verdict"] == "not_enough_data"
    assert body["test"] is None
    assert body["reasons"] == [
        "production has 10 labelled predictions (at least 30 needed)",
        "staging has 10 labelled predictions (at least 30 needed)",
    ]
    # With a lower bar: 10/10 against 2/10 expects 4 wrong answers per arm, under Cochran's 5,
    # so Fisher's exact test answers. Canary right k of the 12 right answers: only k = 2 and
    # k = 10 are as unlikely as the observed 2 (C(10, 2)·C(10, 10) = 45 each) of C(20, 12).
    exact = _get(client, small, "ab", task="sentiment", window="12h", min_labelled=5)
    assert exact["verdict"] == "worse"
    assert exact["test"]["name"] == "fisher"
    assert exact["test"]["p_value"] == pytest.approx(90 / math.comb(20, 12))

    # The canary better: the other way round.
    flipped = member(factory, "flipped", "f", Role.ANALYST)
    outcomes = {"production": [True] * 2 + [False] * 8, "staging": [True] * 10}
    _ab_traffic(client, factory, flipped, outcomes, seed=5)
    assert _get(client, flipped, "ab", task="sentiment", min_labelled=5)["verdict"] == "better"


def test_ab_counts_a_text_answered_many_times_once(client: TestClient, factory: Factory) -> None:
    engineer = member(factory, "acme", "eng", Role.ML_ENGINEER)
    _ab_traffic(client, factory, engineer, {"production": [True] * 5, "staging": [True] * 5}, 9)
    # A popular text the canary answers wrongly 50 times, labelled once by a project.
    popular = "a text everyone sends"
    at = datetime.now(UTC) - timedelta(hours=1)
    log(factory, engineer.account.tenant, [Served(popular, "v-staging", NEG, at, "staging")] * 50)
    dataset = ingest(client, engineer, [("filler text", 1)])
    created = client.post(
        "/api/v1/labeling/projects",
        json=project_body(
            {"kind": "dataset", "dataset_id": dataset},
            ["someone"],
            gold=[{"text": popular, "label": POS}],
        ),
        headers=engineer.headers,
    )
    assert created.status_code == 201, created.text

    body = _get(client, engineer, "ab", task="sentiment", min_labelled=5)
    canary = body["canary"]
    assert (canary["predictions"], canary["labelled"], canary["correct"]) == (55, 6, 5)
    # 5/5 against 5/6 is no evidence of anything (Fisher: p = 1); 5/5 against 5/55 would be.
    assert body["verdict"] == "no_significant_difference"
    assert body["test"]["p_value"] == pytest.approx(1.0)
    # The confusion matrix counts traffic: all 50 wrong answers.
    [_, staging] = _get(client, engineer, "confusion", task="sentiment")["versions"]
    assert staging["model_version"] == "v-staging"
    assert staging["labelled"] == 55


def _psi(expected: list[float], actual: list[float]) -> float:
    """PSI by its definition, with the tool's 1e-4 floor on empty bins."""
    return sum(
        (max(a, 1e-4) - max(e, 1e-4)) * math.log(max(a, 1e-4) / max(e, 1e-4))
        for e, a in zip(expected, actual, strict=True)
    )


def test_drift_per_day_against_the_reference(client: TestClient, factory: Factory) -> None:
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    acme = analyst.account.tenant

    def batch(when: datetime, scores: dict[float, int], chars: dict[int, int]) -> list[Served]:
        rows = [s for s, n in scores.items() for _ in range(n)]
        lengths = [c for c, n in chars.items() for _ in range(n)]
        return [
            Served(f"{when} {i}", "v1", POS, when, probability=p, text_chars=c)
            for i, (p, c) in enumerate(zip(rows, lengths, strict=True))
        ]

    # Reference (days -9 … -3 for days=3): 40 % at 0.196, 40 % at 0.596, 20 % at 0.996; half
    # the texts 30 characters long, half 70. Yesterday: the same shape. Today: mostly 0.996,
    # long. (Scores just under a bin edge: a bin rounded instead of floored is caught.)
    low, mid, high = 0.196, 0.596, 0.996
    log(factory, acme, batch(day(-5), {low: 40, mid: 40, high: 20}, {30: 50, 70: 50}))
    log(factory, acme, batch(day(-1), {low: 20, mid: 20, high: 10}, {30: 25, 70: 25}))
    log(factory, acme, batch(day(0, 0), {low: 10, mid: 10, high: 80}, {300: 100}))

    body = _get(client, analyst, "drift", task="sentiment", days=3, reference_days=7, min_volume=50)
    assert body["reference_predictions"] == 100
    assert datetime.fromisoformat(body["reference_since"]) == day(-9, 0)
    assert datetime.fromisoformat(body["reference_until"]) == day(-2, 0)
    empty, yesterday, today = body["days"]
    assert datetime.fromisoformat(empty["day"]) == day(-2, 0)
    assert (empty["predictions"], empty["enough_traffic"], empty["psi_score"]) == (0, False, None)
    assert (yesterday["predictions"], yesterday["enough_traffic"]) == (50, True)
    assert yesterday["psi_score"] == pytest.approx(0.0, abs=1e-12)
    assert yesterday["psi_text_chars"] == pytest.approx(0.0, abs=1e-12)
    assert yesterday["ks_score"] == pytest.approx(0.0, abs=1e-12)

    # Score bins of 0.1: 0.196 → bin 1, 0.596 → bin 5, 0.996 → bin 9.
    reference = [0, 0.4, 0, 0, 0, 0.4, 0, 0, 0, 0.2]
    now = [0, 0.1, 0, 0, 0, 0.1, 0, 0, 0, 0.8]
    assert today["psi_score"] == pytest.approx(_psi(reference, now))
    assert today["psi_score"] == pytest.approx(0.6 * math.log(4) * 2)
    # Length bins (0, 20, 40, 60, 80, 120, 200, 400, …): 30 → 1, 70 → 3, 300 → 6.
    lengths_ref = [0, 0.5, 0, 0.5, 0, 0, 0, 0, 0, 0]
    lengths_now = [0, 0, 0, 0, 0, 0, 1.0, 0, 0, 0]
    assert today["psi_text_chars"] == pytest.approx(_psi(lengths_ref, lengths_now))
    # CDFs at 0.2: 0.4 vs 0.1; at 0.6: 0.8 vs 0.2 → the largest gap is 0.6.
    assert today["ks_score"] == pytest.approx(0.6)
    assert today["mean_score"] == pytest.approx((10 * low + 10 * mid + 80 * high) / 100)
    assert today["mean_text_chars"] == pytest.approx(300.0)

    few = _get(client, analyst, "drift", task="sentiment", days=3, min_volume=60)
    assert [d["enough_traffic"] for d in few["days"]] == [False, False, True]


def test_a_tenant_sees_only_its_own_traffic(client: TestClient, factory: Factory) -> None:
    owner = member(factory, "acme", "own", Role.ML_ENGINEER)
    stranger = member(factory, "umbra", "str", Role.TENANT_ADMIN, Role.ANALYST, Role.ML_ENGINEER)
    at = day(-1)
    log(
        factory,
        owner.account.tenant,
        [
            Served(f"text {i}", "v1", POS, at, alias=a)
            for i in range(40)
            for a in ("production", "staging")
        ],
    )
    log_failure(factory, owner.account.tenant, alias="staging", texts=4, at=at)
    _feedback(client, owner, [(f"text {i}", POS, "v1") for i in range(40)])
    assert _get(client, owner, "volume", bucket="day")["predictions"] == 80
    assert _get(client, owner, "confusion", task="sentiment")["versions"] != []

    assert _get(client, stranger, "confusion", task="sentiment")["versions"] == []
    assert _get(client, stranger, "accuracy", task="sentiment")["series"] == []
    volume = _get(client, stranger, "volume", bucket="day")
    assert (volume["predictions"], volume["series"], volume["failures"]) == (0, [], [])
    ab = _get(client, stranger, "ab", task="sentiment", window="7d")
    assert (ab["production"]["predictions"], ab["canary"]["failed_texts"]) == (0, 0)
    assert ab["verdict"] == "not_enough_data"
    drift = _get(client, stranger, "drift", task="sentiment")
    assert drift["reference_predictions"] == 0
    assert all(d["predictions"] == 0 for d in drift["days"])


READS = [
    ("confusion", {"task": "sentiment"}),
    ("accuracy", {"task": "sentiment"}),
    ("volume", {}),
    ("ab", {"task": "sentiment"}),
    ("drift", {"task": "sentiment"}),
]


def test_roles(client: TestClient, factory: Factory) -> None:
    allowed = [
        member(factory, "acme", role.value, role)
        for role in (Role.ANALYST, Role.ML_ENGINEER, Role.TENANT_ADMIN)
    ]
    refused = [
        member(factory, "acme", role.value, role)
        for role in (Role.VIEWER, Role.ANNOTATOR, Role.APPROVER, Role.AGENT, Role.PLATFORM_ADMIN)
    ]
    for path, params in READS:
        for who in allowed:
            _get(client, who, path, **params)
        for who in refused:
            response = client.get(f"{BASE}/{path}", params=params, headers=who.headers)
            assert response.status_code == 403, (path, who.id, response.text)
        assert client.get(f"{BASE}/{path}", params=params).status_code == 401


# (route, query, words the 422 names; None where FastAPI's own validation answers)
BAD_INPUTS: list[tuple[str, dict[str, str], str | None]] = [
    (
        "confusion",
        {"task": "sentiment", "since": "2026-01-01T00:00:00Z", "until": "2026-04-02T00:00:00Z"},
        "at most 90 days",
    ),
    (
        "confusion",
        {"task": "sentiment", "since": "2026-02-01T00:00:00Z", "until": "2026-01-01T00:00:00Z"},
        "since must be before until",
    ),
    (
        "accuracy",
        {
            "task": "sentiment",
            "bucket": "hour",
            "since": "2026-01-01T00:00:00Z",
            "until": "2026-03-31T00:00:00Z",
        },
        "2136 hour buckets",
    ),
    (
        "volume",
        {"bucket": "hour", "since": "2026-01-01T00:00:00Z", "until": "2026-03-31T00:00:00Z"},
        "at most 2000",
    ),
    ("ab", {"task": "sentiment", "window": "91d"}, "at most 90 days"),
    ("ab", {"task": "sentiment", "window": "2161h"}, "at most 90 days"),
    ("ab", {"task": "sentiment", "window": "0h"}, None),
    ("ab", {"task": "sentiment", "until": "0001-01-02T00:00:00Z", "window": "2d"}, "years 1"),
    ("volume", {"until": "9999-12-31T23:00:00-05:00"}, "years 1"),
    ("ab", {"task": "sentiment", "window": "1w"}, None),
    ("ab", {"task": "sentiment", "alpha": "0.5"}, None),
    ("ab", {"task": "sentiment", "min_labelled": "0"}, None),
    ("drift", {"task": "sentiment", "days": "91"}, None),
    ("drift", {"task": "sentiment", "reference_days": "0"}, None),
    ("confusion", {"task": "irony"}, None),
    ("confusion", {}, None),
    ("confusion", {"task": "sentiment", "version": "v" * 65}, None),
    ("confusion", {"task": "sentiment", "version": "v1\n"}, None),
    ("volume", {"bucket": "minute"}, None),
    ("volume", {"since": "yesterday"}, None),
]


def test_bad_inputs_are_422(client: TestClient, factory: Factory) -> None:
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    for path, params, detail in BAD_INPUTS:
        response = client.get(f"{BASE}/{path}", params=params, headers=analyst.headers)
        assert response.status_code == 422, (path, params, response.text)
        if detail is not None:
            assert detail in response.json()["detail"], (path, params)


def test_the_largest_inputs_are_answered(client: TestClient, factory: Factory) -> None:
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    since, until = "2026-01-01T00:00:00Z", "2026-04-01T00:00:00Z"  # exactly 90 days
    _get(client, analyst, "confusion", task="sentiment", since=since, until=until)
    _get(client, analyst, "volume", bucket="day", since=since, until=until)
    # 2000 hour buckets exactly; a half hour either side touches one more.
    _get(
        client,
        analyst,
        "accuracy",
        task="sentiment",
        bucket="hour",
        since=since,
        until="2026-03-25T08:00:00Z",
    )
    shifted = client.get(
        f"{BASE}/accuracy",
        params={
            "task": "sentiment",
            "bucket": "hour",
            "since": "2025-12-31T23:30:00Z",
            "until": "2026-03-25T07:30:00Z",
        },
        headers=analyst.headers,
    )
    assert shifted.status_code == 422
    assert "2001 hour buckets" in shifted.json()["detail"]
    _get(client, analyst, "ab", task="sentiment", window="90d")
    _get(client, analyst, "ab", task="sentiment", window="2160h")
    body = _get(client, analyst, "drift", task="sentiment", days=90, reference_days=90)
    assert len(body["days"]) == 90


def test_generated_queries_never_fail_the_server(client: TestClient, factory: Factory) -> None:
    """schemathesis' generated queries for the analytics routes, over a log with traffic in it:
    answers are 200 or 422, never a server error."""
    analyst = member(factory, "acme", "ana", Role.ANALYST)
    log(factory, analyst.account.tenant, [Served(f"t{i}", "v1", POS, day(-1)) for i in range(5)])
    _feedback(client, analyst, [(f"t{i}", NEG, "v1") for i in range(5)])
    api = schemathesis.openapi.from_dict(fastapi_app(client).openapi())
    operations = [
        result.ok()
        for result in api.get_all_operations()
        if not isinstance(result, Err) and result.ok().path.startswith(BASE)
    ]
    assert len(operations) == len(READS)
    statuses: Counter[int] = Counter()
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=40,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def exercise(case: Any) -> None:
            # Sent through the test client (the app's own event loop), with the analyst's
            # credential only: the generated cases vary the query, which is all these take.
            response = client.get(case.formatted_path, params=case.query, headers=analyst.headers)
            statuses[response.status_code] += 1
            assert response.status_code in (200, 422), (case.query, response.text[:300])

        exercise()
    assert statuses[200] > 0, statuses
    assert statuses[422] > 0, statuses
