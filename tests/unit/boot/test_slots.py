"""The slot state model and what GRUB picks (slots.grub_pick mirrors grubcfg's script)."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stook_core.boot import grubenv, slots
from stook_core.boot.slots import BootEnv, SlotState


def installed(version: str = "1.0") -> BootEnv:
    """A node whose first boot of slot A passed its health check."""
    env = slots.initial_state(version)
    return slots.mark_good(slots.grub_pick(env).env, "A")


def boot(env: BootEnv, healthy: bool) -> tuple[slots.Slot, BootEnv]:
    """GRUB picks and saves; the health check marks the slot good or the node reboots."""
    choice = slots.grub_pick(env)
    after = choice.env
    if healthy:
        after = slots.mark_good(after, choice.slot)
    return choice.slot, after


def test_initial_state_trial_of_a_with_three_attempts() -> None:
    env = slots.initial_state("1.0")
    assert env.order == ("A", "B")
    assert env.a == SlotState(ok=False, left=3, version="1.0")
    assert env.b == SlotState()
    assert env.to_grubenv() == {
        "ORDER": "A B", "A_OK": "0", "A_LEFT": "3", "A_VERSION": "1.0",
        "B_OK": "0", "B_LEFT": "0", "B_VERSION": "", "BOOTED": "",
    }  # fmt: skip


def test_grubenv_roundtrip_keeps_unknown_keys() -> None:
    env = replace(installed(), extra={"future_key": "x"})
    assert BootEnv.from_grubenv(env.to_grubenv()) == env


@pytest.mark.parametrize(
    ("key", "value"),
    [("ORDER", "A"), ("ORDER", "A A"), ("A_OK", "2"), ("A_LEFT", "10"), ("A_LEFT", "-1"),
     ("B_VERSION", "bad version"), ("BOOTED", "C")],
)  # fmt: skip
def test_from_grubenv_rejects_what_grub_would_misread(key: str, value: str) -> None:
    env = installed().to_grubenv() | {key: value}
    with pytest.raises(slots.BootEnvInvalidError, match=key):
        BootEnv.from_grubenv(env)


def test_missing_counter_is_invalid() -> None:
    env = installed().to_grubenv()
    del env["B_LEFT"]
    with pytest.raises(slots.BootEnvInvalidError, match="B_LEFT"):
        BootEnv.from_grubenv(env)


def test_largest_environment_fits_in_the_block() -> None:
    longest = "9" * 64
    env = BootEnv(("B", "A"), SlotState(True, 9, longest), SlotState(True, 9, longest), "B")
    assert len(grubenv.render(env.to_grubenv())) == grubenv.SIZE


def test_good_slot_boots_without_spending_attempts() -> None:
    choice = slots.grub_pick(installed())
    assert (choice.slot, choice.trial, choice.exhausted) == ("A", False, False)
    assert choice.env.a.left == 3
    assert choice.env.booted == "A"


def test_untested_slot_spends_an_attempt_per_boot() -> None:
    env = slots.set_next(installed(), "B", "2.0")
    lefts = []
    for _ in range(3):
        slot, env = boot(env, healthy=False)
        assert slot == "B"
        lefts.append(env.b.left)
    assert lefts == [2, 1, 0]
    slot, env = boot(env, healthy=False)
    assert slot == "A"  # attempts spent: the other slot


def test_broken_update_falls_back_and_reports_it() -> None:
    env = slots.set_next(installed(), "B", "2.0")
    for _ in range(3):
        _, env = boot(env, healthy=False)
    slot, env = boot(env, healthy=True)
    assessment = slots.assess(env, slot)
    assert (slot, assessment.fell_back, assessment.intended) == ("A", True, "B")
    assert "FALLBACK" in assessment.message
    assert assessment.pending is None


def test_good_update_is_kept() -> None:
    env = slots.set_next(installed(), "B", "2.0")
    slot, env = boot(env, healthy=True)
    assert slot == "B"
    assert env.b == SlotState(True, 3, "2.0")
    assert slots.assess(env, "B").message == "slot B is good"
    assert boot(env, healthy=False)[0] == "B"  # a good slot stays the choice


def test_set_next_resets_all_stale_assessment_state() -> None:
    """Elemental's bug: flags left from an earlier trial forced a fallback after the next
    update. After a failed trial of B, a new set_next(B) gives B every attempt again."""
    env = slots.set_next(installed(), "B", "2.0")
    for _ in range(3):
        _, env = boot(env, healthy=False)
    _, env = boot(env, healthy=True)  # fell back to A
    env = slots.set_next(slots.invalidate(env, "B"), "B", "2.1")
    assert env.b == SlotState(False, 3, "2.1")
    assert env.a.left == 3
    assert not slots.assess(env, "A").fell_back
    assert slots.assess(env, "A").pending == "B"
    assert boot(env, healthy=True)[0] == "B"


def test_set_next_clears_a_stale_good_flag_and_is_idempotent() -> None:
    env = slots.mark_good(slots.set_next(installed(), "B", "2.0"), "B")
    again = slots.set_next(env, "B", "3.0")
    assert again.b == SlotState(False, 3, "3.0")
    assert slots.set_next(again, "B", "3.0") == again


def test_invalidated_slot_is_never_picked() -> None:
    env = slots.invalidate(slots.set_next(installed(), "B", "2.0"), "B")
    assert env.b == SlotState()
    assert slots.grub_pick(env).slot == "A"


def test_exhausted_boots_the_first_slot_holding_an_image() -> None:
    env = BootEnv(("B", "A"), SlotState(False, 0, "1.0"), SlotState(False, 0, ""))
    choice = slots.grub_pick(env)
    assert (choice.slot, choice.exhausted, choice.trial) == ("A", True, False)
    empty = BootEnv(("B", "A"))
    assert slots.grub_pick(empty).slot == "B"


def test_mark_good_keeps_order_so_a_fallback_stays_visible() -> None:
    env = slots.set_next(installed(), "B", "2.0")
    env = replace(env, b=SlotState(False, 0, "2.0"), booted="A")
    marked = slots.mark_good(env, "A")
    assert marked.order == ("B", "A")
    assert slots.assess(marked, "A").fell_back


def test_last_attempt_reports_trial_and_next_boot() -> None:
    env = slots.set_next(installed(), "B", "2.0")
    env = replace(env, b=SlotState(False, 0, "2.0"), booted="B")
    assessment = slots.assess(env, "B")
    assert (assessment.trial, assessment.fell_back, assessment.pending) == (True, False, "A")
    assert "0 attempt(s) left" in assessment.message


@pytest.mark.parametrize("attempts", [0, 10])
def test_attempts_out_of_range(attempts: int) -> None:
    with pytest.raises(ValueError, match="attempts"):
        slots.set_next(installed(), "B", attempts=attempts)


def test_parse_slot() -> None:
    assert slots.parse_slot(" b ") == "B"
    with pytest.raises(ValueError, match="unknown slot"):
        slots.parse_slot("C")


operations = st.lists(
    st.tuples(st.sampled_from(["boot-ok", "boot-fail", "set-next", "invalidate"]),
              st.sampled_from(slots.SLOTS)),
    max_size=25,
)  # fmt: skip


@given(operations)
def test_a_good_slot_is_never_abandoned_for_a_broken_one(ops: list[tuple[str, str]]) -> None:
    """Whatever happens, a boot lands on a good slot whenever one exists and the first
    choice is spent, and GRUB never picks an invalidated slot while another holds an image."""
    env = installed()
    for op, name in ops:
        slot = slots.parse_slot(name)
        if op == "set-next" and env.slot(slot).version:
            env = slots.set_next(env, slot)
        elif op == "invalidate" and slot != env.booted:
            env = slots.invalidate(env, slot)
        elif op.startswith("boot"):
            picked, env = boot(env, healthy=op == "boot-ok")
            assert env.slot(picked).version, "booted a slot without an image"
        assert len(grubenv.render(env.to_grubenv())) == grubenv.SIZE
        assert BootEnv.from_grubenv(env.to_grubenv()) == env
