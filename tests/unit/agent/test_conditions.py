"""Condition bookkeeping (metav1.Condition semantics)."""

from __future__ import annotations

from stook_agent.runtime.conditions import find_condition, set_condition


def test_set_condition_keeps_transition_time_while_status_holds() -> None:
    first = set_condition(None, "Ready", "False", "Waiting", "not yet", 1, now="T1")
    again = set_condition(first, "Ready", "False", "StillWaiting", "not yet", 2, now="T2")
    assert again[0]["lastTransitionTime"] == "T1"
    assert again[0]["observedGeneration"] == 2 and again[0]["reason"] == "StillWaiting"
    flipped = set_condition(again, "Ready", "True", "Done", "ok", 3, now="T3")
    assert flipped[0]["lastTransitionTime"] == "T3"


def test_set_condition_replaces_only_its_type_and_sorts() -> None:
    conditions = set_condition(None, "Ready", "True", "Ok", "", 1, now="T")
    conditions = set_condition(conditions, "Degraded", "False", "Ok", "", 1, now="T")
    assert [c["type"] for c in conditions] == ["Degraded", "Ready"]
    obj = {"status": {"conditions": conditions}}
    ready = find_condition(obj, "Ready")
    assert ready is not None and ready["status"] == "True"
    assert find_condition(obj, "Missing") is None
    assert find_condition({}, "Ready") is None


def test_messages_are_bounded() -> None:
    conditions = set_condition(None, "Ready", "False", "Err", "x" * 40000, 1)
    assert len(conditions[0]["message"]) == 32768
