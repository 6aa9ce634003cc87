"""The words and the numbers of a call's progress (`common.progress`)."""

from __future__ import annotations

import threading

from k8s_multicluster_mcp.common import progress


def test_waiting_names_a_few_then_how_many_more() -> None:
    assert progress.waiting(12, 40, ["eu-2", "us-7"]) == "12 of 40 clusters answered; waiting for eu-2, us-7"
    assert (
        progress.waiting(1, 6, ["a", "b", "c", "d", "e"])
        == "1 of 6 clusters answered; waiting for a, b, c and 2 more"
    )
    assert progress.waiting(4, 4, []) == "4 of 4 clusters answered"


def test_finished_says_all_answered_or_names_who_did_not() -> None:
    assert progress.finished(4, []) == "4 of 4 clusters answered"
    assert progress.finished(4, ["slow"]) == "3 of 4 clusters answered; no answer from slow"


def test_nothing_is_reported_when_nobody_listens() -> None:
    assert progress.phase(3) is None
    assert progress.clusters(["a", "b"]) is None


def test_a_fanout_reports_each_answer_and_the_timeout_at_the_end() -> None:
    told: list[tuple[int, int, str]] = []
    with progress.reporting(lambda *report: told.append(report)):
        fan = progress.clusters(["a", "b", "slow"])
        assert fan is not None
        fan.answered("b")
        fan.answered("b")  # told twice: said once
        fan.answered("a")
        fan.finish(["slow"])
        fan.answered("slow")  # too late: the end was said
    assert told == [
        (1, 3, "1 of 3 clusters answered; waiting for a, slow"),
        (2, 3, "2 of 3 clusters answered; waiting for slow"),
        (3, 3, "2 of 3 clusters answered; no answer from slow"),
    ]


def test_one_cluster_is_no_fanout() -> None:
    with progress.reporting(lambda *report: None):
        assert progress.clusters(["only"]) is None


def test_phases_of_one_call_only_grow() -> None:
    """A summary fans out three times: the second phase's numbers follow the first's."""
    told: list[tuple[int, int, str]] = []
    with progress.reporting(lambda *report: told.append(report)):
        for _ in range(2):
            fan = progress.clusters(["a", "b"])
            assert fan is not None
            fan.answered("a")
            fan.answered("b")
            fan.finish([])  # all answered already said: dropped
    assert [(p, t) for p, t, _ in told] == [(1, 2), (2, 2), (3, 4), (4, 4)]
    assert told[-1][2] == "2 of 2 clusters answered"


def test_reports_from_many_threads_reach_the_sink_in_increasing_order() -> None:
    told: list[int] = []
    with progress.reporting(lambda done, total, message: told.append(done)):
        names = [f"c{i}" for i in range(200)]
        fan = progress.clusters(names)
        assert fan is not None
        threads = [threading.Thread(target=fan.answered, args=(n,)) for n in names]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert told == sorted(told)
    assert told[-1] == 200


def test_a_further_part_of_the_same_call_goes_on_from_where_it_was() -> None:
    """A confirmation's dry run, then the drain: two runs of the tool, one request, one count."""
    told: list[tuple[int, int, str]] = []
    reporter = progress.Reporter()
    for word in ("would evict", "evicted"):
        with progress.reporting(lambda *report: told.append(report), reporter):
            step = progress.phase(2)
            assert step is not None
            step.step(1, f"{word} a (1 of 2)")
            step.step(2, f"{word} b (2 of 2)")
    assert [(p, t) for p, t, _ in told] == [(1, 2), (2, 2), (3, 4), (4, 4)]
    assert told[-1][2] == "evicted b (2 of 2)"
