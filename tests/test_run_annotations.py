"""A run's name, tags and note (a sidecar beside run.json) and its provenance (in run.json)."""

import json
import os
import shutil
import subprocess
import threading
from pathlib import Path

import pytest

from recsys_core.cli import main
from recsys_core.runs import RunStore, provenance
from recsys_core.runs import annotations as notes

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def store(saved, tmp_path):
    """A store of its own holding a copy of the session's saved run (these tests change it)."""
    shutil.copytree(saved.path, tmp_path / saved.run_id)
    return RunStore(tmp_path)


def test_annotations_live_beside_run_json_which_stays_as_training_wrote_it(store, saved):
    run_json = (store.root / saved.run_id / "run.json").read_bytes()
    said = store.annotate(saved.run_id, by="ana", name=" Baseline ", add_tags=["sweep-lr", "paper"],
                          note="first line\nsecond <b>line</b>")  # fmt: skip
    assert said.name == "Baseline" and said.tags == ("sweep-lr", "paper")
    assert (store.root / saved.run_id / "run.json").read_bytes() == run_json
    on_disk = json.loads((store.root / saved.run_id / notes.FILE).read_text())
    assert on_disk["name"] == "Baseline" and on_disk["note"] == "first line\nsecond <b>line</b>"
    assert on_disk["updated_by"] == "ana" and on_disk["history"][-1]["changed"] == ["name", "tags", "note"]  # fmt: skip
    row = store.list().set_index("run_id").loc[saved.run_id]
    assert row["name"] == "Baseline" and row["tags"] == "sweep-lr, paper"
    assert store.open(saved.run_id).annotations == said
    # a tag already there (in any case) is kept once; removing one that is not there says so
    assert store.annotate(saved.run_id, add_tags=["PAPER"]).tags == ("sweep-lr", "paper")
    with pytest.raises(notes.AnnotationError, match="no tag 'nope'"):
        store.annotate(saved.run_id, remove_tags=["nope"])
    assert store.annotate(saved.run_id, remove_tags=["Sweep-LR"], name="").tags == ("paper",)
    assert store.open(saved.run_id).annotations.name == ""


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "x" * 81}, "at most 80"),
        ({"name": "two\nlines"}, "line break or control character"),
        ({"name": "bell\x07"}, "control character"),
        ({"add_tags": ["two words"]}, "not one word"),
        ({"add_tags": ["-leading"]}, "not one word"),
        ({"add_tags": ["t" * 33]}, "at most 32"),
        ({"add_tags": [""]}, "cannot be empty"),
        ({"add_tags": [f"t{k}" for k in range(21)]}, "at most 20 tags"),
        ({"note": "n" * 2001}, "at most 2000"),
        ({"note": "zero\u200bwidth"}, "control character"),
    ],
)
def test_bad_values_are_refused_in_one_line_and_change_nothing(store, saved, changes, message):
    store.annotate(saved.run_id, name="kept", add_tags=["kept"])
    with pytest.raises(notes.AnnotationError, match=message) as info:
        store.annotate(saved.run_id, **{"note": "not written", **changes})
    assert "\n" not in str(info.value)
    said = store.open(saved.run_id).annotations
    assert (said.name, said.tags, said.note) == ("kept", ("kept",), "")


def test_a_damaged_sidecar_reads_as_no_annotations_and_never_breaks_the_run(store, saved):
    path = store.root / saved.run_id / notes.FILE
    for text in ("{not json", '["a list"]', '{"name": 3, "tags": "x", "note": null}',
                 '{"name": "' + "x" * 500 + '"}'):  # fmt: skip
        path.write_text(text)
        assert store.open(saved.run_id).annotations == notes.Annotations()
        frame = store.list()
        assert "error" not in frame or frame["error"].isna().all()
    assert store.annotate(saved.run_id, name="fixed").name == "fixed"  # and it can be rewritten


def test_annotating_a_missing_run_or_an_escaping_id_is_refused(store):
    from recsys_core.errors import RunStoreError

    with pytest.raises(RunStoreError, match="no run 'gone'"):
        store.annotate("gone", name="x")
    with pytest.raises(RunStoreError, match="invalid run id"):
        store.annotate("../etc", name="x")


def test_concurrent_taggers_all_keep_their_tag(store, saved):
    def tag(k: int) -> None:
        store.annotate(saved.run_id, add_tags=[f"t{k}"])

    threads = [threading.Thread(target=tag, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(store.open(saved.run_id).annotations.tags) == sorted(f"t{k}" for k in range(12))
    leftovers = [p.name for p in (store.root / saved.run_id).iterdir() if p.name.startswith(".tmp")]
    assert leftovers == []


def test_provenance_reads_the_checkouts_commit_without_git(monkeypatch):
    expected = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=False).stdout.strip()  # fmt: skip
    if not expected:
        pytest.skip("not a git checkout")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("ran git"))
    assert provenance.git_commit(ROOT) == expected


def test_provenance_reads_packed_refs_worktrees_and_a_detached_head(tmp_path):
    sha, other = "a" * 40, "b" * 40
    git = tmp_path / "repo" / ".git"
    (git / "refs" / "heads").mkdir(parents=True)
    (git / "HEAD").write_text("ref: refs/heads/main\n")
    (git / "packed-refs").write_text(f"# pack-refs with: peeled\n{sha} refs/heads/main\n")
    assert provenance.git_commit(tmp_path / "repo") == sha
    (git / "refs" / "heads" / "main").write_text(other + "\n")  # a loose ref wins
    assert provenance.git_commit(tmp_path / "repo") == other
    (git / "HEAD").write_text(sha)  # detached
    assert provenance.git_commit(tmp_path / "repo") == sha
    # a worktree: .git is a file naming its folder, whose commondir holds the refs
    wt = git / "worktrees" / "wt"
    wt.mkdir(parents=True)
    (wt / "HEAD").write_text("ref: refs/heads/main\n")
    (wt / "commondir").write_text("../..\n")
    (tmp_path / "wt").mkdir()
    (tmp_path / "wt" / ".git").write_text(f"gitdir: {wt}\n")
    assert provenance.git_commit(tmp_path / "wt") == other


def test_provenance_never_fails_without_git_or_a_user(tmp_path, monkeypatch):
    (tmp_path / ".git").mkdir()  # a .git with nothing readable, and no git to ask
    monkeypatch.setenv("PATH", str(tmp_path))
    assert provenance.git_commit(tmp_path) is None
    monkeypatch.setattr(provenance, "checkout_root", lambda: None)
    monkeypatch.setattr(provenance.getpass, "getuser", lambda: (_ for _ in ()).throw(OSError()))
    record = provenance.collect(via="command line")
    assert record["user"] is None and record["git_commit"] is None
    assert record["versions"]["recsys-core"] and record["via"] == "command line"
    assert provenance.collect(user=None, via="dashboard")["user"] is None  # no sign-in: no name
    assert provenance.describe(record).startswith("trained from the command line")
    assert provenance.describe(None) == ""


def test_a_saved_run_records_who_trained_it_and_its_refit_curve(trained, tmp_path):
    saved = RunStore(tmp_path).save(trained, provenance=provenance.collect("ana@example.com", "dashboard"))  # fmt: skip
    meta = RunStore(tmp_path).open(saved.run_id).meta
    assert meta["provenance"]["user"] == "ana@example.com"
    assert meta["provenance"]["via"] == "dashboard"
    assert meta["provenance"]["git_commit"] == provenance.git_commit()
    default = RunStore(tmp_path).save(trained)  # a script: the OS user
    assert RunStore(tmp_path).open(default.run_id).meta["provenance"]["user"] == provenance.os_user()
    assert meta["refit_epochs"] == trained.history.refit_epochs
    assert len(meta["refit_history"]) == trained.history.refit_epochs > 0
    assert all("loss" in row for row in meta["refit_history"])


def test_cli_names_tags_and_notes_a_run(store, saved, capsys, monkeypatch):
    runs = ["runs", "--runs-dir", str(store.root)]
    before = (store.root / saved.run_id / "run.json").read_bytes()
    argv = [*runs, "--name", saved.run_id, "lr sweep best", "--tag", saved.run_id, "sweep-lr",
            "--tag", saved.run_id, "paper", "--note", saved.run_id, "beats the baseline"]  # fmt: skip
    assert main(argv) == 0
    assert "name 'lr sweep best', tags sweep-lr, paper" in capsys.readouterr().out
    said = store.open(saved.run_id).annotations
    assert said.note == "beats the baseline" and said.updated_by == provenance.os_user()
    assert (store.root / saved.run_id / "run.json").read_bytes() == before
    assert main([*runs, "--untag", saved.run_id, "paper"]) == 0
    assert store.open(saved.run_id).annotations.tags == ("sweep-lr",)
    assert main(runs) == 0
    listing = capsys.readouterr().out
    assert "lr sweep best" in listing and "sweep-lr" in listing
    assert main([*runs, "--show", saved.run_id]) == 0
    shown = capsys.readouterr().out
    assert "lr sweep best" in shown and "note: beats the baseline" in shown
    assert "reproduce: recsys-core train --model dlrm" in shown


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tag", "RUN", "two words"], "is not one word"),
        (["--name", "RUN", "n" * 81], "at most 80"),
        (["--tag", "gone-run", "x"], "no run 'gone-run'"),
        (["--note", "../x", "y"], "invalid run id"),
    ],
)
def test_cli_refuses_bad_annotations_in_one_line(store, saved, capsys, extra, message):
    extra = [saved.run_id if w == "RUN" else w for w in extra]
    argv = ["runs", "--runs-dir", str(store.root), "--name", saved.run_id, "first", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1
    assert not (store.root / saved.run_id / notes.FILE).exists()  # nothing was written


def test_sidecar_writes_are_atomic(store, saved, monkeypatch):
    store.annotate(saved.run_id, name="before")

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(notes.AnnotationError, match="No space left"):
        store.annotate(saved.run_id, name="after")
    monkeypatch.undo()
    assert store.open(saved.run_id).annotations.name == "before"
    assert not [p for p in (store.root / saved.run_id).iterdir() if p.name.startswith(".tmp")]


def test_the_report_carries_the_name_tags_note_and_who_trained_it(store, saved):
    from recsys_core.viz.report import run_report

    store.annotate(saved.run_id, name="<b>best</b> run", add_tags=["paper"], note="line 1\n<script>x</script>")  # fmt: skip
    html = run_report(store.open(saved.run_id), max_maps=0)
    assert "<b>Name</b> — &lt;b&gt;best&lt;/b&gt; run" in html
    assert "<b>Tags</b> — paper" in html
    assert "line 1<br>&lt;script&gt;x&lt;/script&gt;" in html and "<script>x" not in html
    assert provenance.describe(saved.meta["provenance"])[1:] in html  # "Trained by … (commit …)"
