"""The two locked copies of the boot environment (a tmp dir stands in for the ESP)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stook_core.boot import grubenv, slots, store

OLD = slots.initial_state("1.0").to_grubenv()
NEW = slots.set_next(slots.mark_good(slots.initial_state("1.0"), "A"), "B", "2.0").to_grubenv()


def make(tmp_path: Path) -> store.EnvStore:
    envs = store.EnvStore(tmp_path)
    envs.create(OLD)
    return envs


def test_create_writes_four_blocks_equal_to_files(tmp_path: Path) -> None:
    envs = make(tmp_path)
    staged = store.EnvStore.files(OLD)
    assert sorted(staged) == sorted(
        f"boot/grub/{n}" for n in ("grubenv", "grubenv.lock", "grubenv2", "grubenv2.lock")
    )
    for rel, data in staged.items():
        assert (tmp_path / rel).read_bytes() == data
        assert len(data) == grubenv.SIZE
    loaded = envs.load(slots.BootEnv.from_grubenv)
    assert (loaded.env, loaded.copy, loaded.consistent) == (OLD, 1, True)


def test_locked_copy_1_falls_back_to_copy_2(tmp_path: Path) -> None:
    envs = make(tmp_path)
    grubenv.write_atomic(envs.path("grubenv.lock"), {store.LOCK_VAR: "1"})
    grubenv.write_atomic(envs.path("grubenv"), NEW)  # written, but never unlocked
    loaded = envs.load()
    assert (loaded.env, loaded.copy, loaded.consistent) == (OLD, 2, False)
    assert any("locked" in note for note in loaded.notes)


def test_damaged_copy_1_falls_back_and_save_repairs_it(tmp_path: Path) -> None:
    envs = make(tmp_path)
    envs.path("grubenv").write_bytes(b"\0" * 1024)
    loaded = envs.load()
    assert (loaded.env, loaded.copy) == (OLD, 2)
    envs.save(loaded.env)
    assert envs.load().consistent


def test_meaningless_copy_is_skipped_by_the_validator(tmp_path: Path) -> None:
    envs = make(tmp_path)
    grubenv.write_atomic(envs.path("grubenv"), {**OLD, "ORDER": "C"})
    assert envs.load(slots.BootEnv.from_grubenv).copy == 2


def test_no_usable_copy_is_an_error(tmp_path: Path) -> None:
    envs = make(tmp_path)
    envs.path("grubenv").unlink()
    envs.path("grubenv2.lock").write_bytes(b"junk")
    with pytest.raises(store.BootEnvUnreadableError, match="no usable copy"):
        envs.load()


def test_save_refuses_a_block_that_does_not_fit_before_writing(tmp_path: Path) -> None:
    envs = make(tmp_path)
    with pytest.raises(grubenv.GrubEnvError):
        envs.save({**OLD, "X": "y" * 2000})
    assert envs.load().env == OLD


class PowerCutError(Exception):
    pass


@pytest.mark.parametrize("torn", [False, True], ids=["before", "torn"])
@pytest.mark.parametrize("writes_before_cut", range(6))
def test_power_cut_at_any_write_leaves_old_or_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, writes_before_cut: int, torn: bool
) -> None:
    """A save is six in-place block writes; cutting power before one of them, or in the middle
    of one (its first sector new, the second old), keeps a usable environment."""
    envs = make(tmp_path)
    real = grubenv.write
    done = []

    def cut_after_n_writes(path: Path, env: dict[str, str], size: int = grubenv.SIZE) -> None:
        if len(done) == writes_before_cut:
            if torn:
                with path.open("r+b") as block:
                    block.write(grubenv.render(env, size)[:512])
            raise PowerCutError
        done.append(path)
        real(path, env, size)

    monkeypatch.setattr(grubenv, "write", cut_after_n_writes)
    with pytest.raises(PowerCutError):
        envs.save(NEW)
    monkeypatch.setattr(grubenv, "write", real)
    loaded = envs.load(slots.BootEnv.from_grubenv)
    if writes_before_cut >= 3:  # copy 1 written and unlocked
        assert loaded.env == NEW
    elif writes_before_cut == 2 and torn:  # unlocking copy 1 torn: either is whole
        assert loaded.env in (OLD, NEW)
    else:
        assert loaded.env == OLD
