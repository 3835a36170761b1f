"""The run directory: only zpml's own files are replaced; a run that stops leaves it as found."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from zpml_data.errors import UsageError
from zpml_train.run.directory import RUN_FILES, RUN_FORMAT, STAGING, claim_run_dir
from zpml_train.training._checkpoint import write_checkpoint

SHARDS = "shards-that-are-not-read"


def write_run(run_dir: Path, tag: str = "old") -> None:
    """The files of a finished run, each with its zpml signature."""
    run_dir.mkdir(parents=True, exist_ok=True)
    config = {"format": RUN_FORMAT, "data": {"train_manifest_sha256": tag}, "run": {}}
    (run_dir / "config.json").write_text(json.dumps({**config, "training": {}}))
    (run_dir / "metrics.jsonl").write_text(json.dumps({"epoch": 0, "loss": 1.0}) + "\n")
    for name in ("last.pt", "best.pt"):
        write_checkpoint(run_dir / name, {"model": {"w": torch.zeros(2)}, "tag": tag})
    (run_dir / "report.html").write_text(
        f"<!DOCTYPE html>\n<html><head><title>zpml training report: {tag}</title></head></html>"
    )


def digest(directory: Path) -> dict[str, str]:
    """sha256 of every entry (hidden ones too) of ``directory``."""
    return {
        p.name: hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else "dir"
        for p in sorted(directory.iterdir())
    }


class Stop(Exception):
    """A run that stops (a refusal, an interrupt)."""


def claim(
    run_dir: Path, *, resume: bool = False, overwrite: bool = False
) -> contextlib.AbstractContextManager[None]:
    return claim_run_dir(run_dir, [SHARDS], resume=resume, overwrite=overwrite)


def enter(run_dir: Path, **options: bool) -> None:
    """Claim the directory for a run that writes nothing and finishes."""
    with claim(run_dir, **options):
        pass


def test_a_users_files_named_like_run_files_are_never_deleted(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "config.json").write_text('{"my": "own"}')
    (mine / "report.html").write_text("<html>my report</html>")
    before = digest(mine)
    with pytest.raises(UsageError, match=r"config.json, report.html, which zpml did not write"):
        enter(mine, overwrite=True)
    assert digest(mine) == before


@pytest.mark.parametrize("name", RUN_FILES)
def test_one_unsigned_file_in_a_run_keeps_the_whole_run(tmp_path: Path, name: str) -> None:
    run = tmp_path / "run"
    write_run(run)
    (run / name).write_bytes(b"PK\x03\x04 not ours" if name.endswith(".pt") else b"{}\n[1]\n")
    before = digest(run)
    with pytest.raises(UsageError, match=rf"holds (\S+, )*{re.escape(name)}, .*did not write"):
        enter(run, overwrite=True)
    assert digest(run) == before


def test_a_run_that_stops_before_its_first_epoch_restores_the_previous_run(
    tmp_path: Path,
) -> None:
    run = tmp_path / "run"
    write_run(run)
    before = digest(run)
    with pytest.raises(Stop), claim(run, overwrite=True):
        assert sorted(p.name for p in run.iterdir()) == [STAGING]  # moved aside, not deleted
        (run / "config.json").write_text('{"format": "zpml-run", "new": true}')
        raise Stop
    assert digest(run) == before


def test_a_run_past_its_first_epoch_replaces_the_previous_run(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_run(run)
    with pytest.raises(Stop), claim(run, overwrite=True):
        write_run(run, tag="new")
        (run / "report.html").unlink()  # written at the end: this run never got there
        raise Stop
    assert sorted(p.name for p in run.iterdir()) == sorted(set(RUN_FILES) - {"report.html"})
    assert torch.load(run / "last.pt", weights_only=True)["tag"] == "new"


def test_a_stopped_resume_puts_the_rewritten_config_back(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_run(run)
    before = digest(run)
    with pytest.raises(Stop), claim(run, resume=True):
        assert (run / "last.pt").is_file()  # a resume reads the run in place
        (run / "config.json").write_text('{"format": "zpml-run", "resumed": true}')
        raise Stop
    assert digest(run) == before


@pytest.mark.parametrize("existed", [False, True])
def test_a_new_run_that_stops_leaves_the_directory_as_found(tmp_path: Path, existed: bool) -> None:
    run = tmp_path / "a" / "b" / "run"
    if existed:
        run.mkdir(parents=True)
    with pytest.raises(KeyboardInterrupt), claim(run):
        (run / "config.json").write_text("{}")
        raise KeyboardInterrupt
    if existed:
        assert list(run.iterdir()) == []
    else:
        assert not (tmp_path / "a").exists()  # the parents it made went too


def test_a_run_killed_while_replacing_is_put_back_by_the_next_claim(tmp_path: Path) -> None:
    run = tmp_path / "run"
    write_run(run)
    before = digest(run)
    (run / STAGING).mkdir()
    for name in RUN_FILES:  # as a killed run leaves it: previous aside, its own config written
        (run / name).rename(run / STAGING / name)
    (run / "config.json").write_text(json.dumps({"format": RUN_FORMAT}))
    with pytest.raises(UsageError, match="--resume, or replace it with --overwrite"):
        enter(run)
    assert digest(run) == before


def test_staged_files_that_are_not_a_runs_stop_the_claim(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / STAGING).mkdir(parents=True)
    (run / STAGING / "config.json").write_text('{"my": "own"}')
    with pytest.raises(UsageError, match="holds files zpml did not write"):
        enter(run, overwrite=True)
    assert (run / STAGING / "config.json").read_text() == '{"my": "own"}'


@given(
    names=st.lists(st.sampled_from([*RUN_FILES, "notes.txt", ".hidden"]), unique=True),
    signed=st.lists(st.booleans(), min_size=7, max_size=7),
)
def test_overwrite_deletes_nothing_unless_every_file_is_a_runs(
    tmp_path_factory: pytest.TempPathFactory, names: list[str], signed: list[bool]
) -> None:
    source, run = tmp_path_factory.mktemp("signed"), tmp_path_factory.mktemp("run")
    write_run(source)
    for name, sign in zip(names, signed, strict=False):
        if name in RUN_FILES and sign:
            (run / name).write_bytes((source / name).read_bytes())
        else:
            (run / name).write_text("a file of the user's")
    before = digest(run)
    ours = all(n in RUN_FILES and s for n, s in zip(names, signed, strict=False))
    ours = ours and (not names or "config.json" in names)
    try:
        with claim(run, overwrite=True):
            assert list(run.iterdir()) == ([run / STAGING] if names else [])
            raise Stop
    except UsageError:
        assert not ours
    except Stop:
        assert ours
    assert digest(run) == before


def test_a_run_inside_the_split_directory_it_trains_on_is_refused(tmp_path: Path) -> None:
    split = tmp_path / "split"
    for name in ("train", "val"):
        (split / name).mkdir(parents=True)
        (split / name / "manifest.json").write_text("{}")
    sets = [split / "train", split / "val"]
    inside = claim_run_dir(split / "run", sets, resume=False, overwrite=False)
    with pytest.raises(UsageError, match=r"'.*split/run' is inside the input '.*split'"), inside:
        pass
    assert sorted(p.name for p in split.iterdir()) == ["train", "val"]
    with claim_run_dir(tmp_path / "run", sets, resume=False, overwrite=False):
        pass  # beside it is fine


@pytest.mark.parametrize("epoch_written", [False, True])
def test_a_resume_killed_in_its_epoch_is_settled_by_the_next_claim(
    tmp_path: Path, epoch_written: bool
) -> None:
    run = tmp_path / "run"
    write_run(run)
    before = digest(run)
    (run / STAGING).mkdir()
    for name in RUN_FILES:  # as a resume stages them: checkpoints linked, the rest copied
        if name.endswith(".pt"):
            os.link(run / name, run / STAGING / name)
        else:
            (run / STAGING / name).write_bytes((run / name).read_bytes())
    (run / "config.json").write_text(json.dumps({"format": RUN_FORMAT, "resumed": True}))
    if epoch_written:  # the killed resume had replaced last.pt: its run stands
        write_checkpoint(run / "last.pt", {"model": {"w": torch.ones(2)}, "tag": "resumed"})
    enter(run, resume=True)
    assert STAGING not in os.listdir(run)
    if epoch_written:
        assert torch.load(run / "last.pt", weights_only=True)["tag"] == "resumed"
        assert json.loads((run / "config.json").read_text())["resumed"] is True
    else:
        assert digest(run) == before
