"""The persisted index: first-use build, fast verified load, imports, corruption and encoder-change rebuilds."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pytest

from rag import Glossary, RagConfig, RagError, builtin, store

pytestmark = pytest.mark.slow  # uses the real MiniLM encoder (cheap, but loads torch)


@pytest.fixture
def kb(builtin_kb, tmp_path, monkeypatch) -> Path:
    """A private copy of the built-in index as $FINTUNE_HOME/kb."""
    home = tmp_path / "home"
    shutil.copytree(builtin_kb, home / "kb")
    monkeypatch.setenv("FINTUNE_HOME", str(home))
    return home / "kb"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def live(kb: Path) -> Path:
    return store.current_dir(kb)


def test_first_use_builds_from_builtin_with_complete_meta(builtin_kb):
    meta = json.loads((live(builtin_kb) / "meta.json").read_text())
    assert meta["count"] == len(builtin.load()) >= 300
    assert meta["encoder"] == "all-MiniLM-L6-v2" and meta["dim"] == 384
    assert meta["index_type"] == "flat" and "exact" in meta["index_reason"]
    assert set(meta["files"]) == set(store.FILES) and len(meta["checksum"]) == 64
    assert {"faiss-cpu", "sentence-transformers", "format"} <= set(meta["versions"])
    assert meta["builtin_checksum"] == builtin.checksum()


def test_open_is_fast_and_defaults_to_fintune_home(kb):
    started = time.perf_counter()
    glossary = Glossary.open()
    assert time.perf_counter() - started < 1.0
    assert glossary.root == kb and len(glossary) == len(builtin.load()) and not glossary.notices


def test_import_adds_dedupes_and_reports(kb, tmp_path):
    glossary = Glossary.open()
    before = len(glossary)
    path = write(tmp_path / "desk.csv", "term,definition,synonyms\n"
                 "Widget swap,A made-up swap of widgets for gadgets.,WSW\n"
                 "Gizmo yield,A made-up yield on gizmos.,\n"
                 "gizmo yield,A made-up yield on gizmos.,\n")
    report = glossary.import_file(path)
    assert (report.added, report.skipped_existing, report.duplicate_rows, report.total) == (2, 0, 1, before + 2)
    assert "Added 2 entries from desk.csv as source 'desk'" in report.summary()
    assert glossary.search("What is a widget swap?")[0].term == "Widget swap"
    assert glossary.search("WSW")[0].term == "Widget swap"  # new synonyms are matched exactly
    again = glossary.import_file(path)
    assert (again.added, again.skipped_existing) == (0, 2) and "Nothing added" in again.summary()
    reopened = Glossary.open()
    assert len(reopened) == before + 2 and reopened.sources()["desk"] == 2
    assert reopened.stats()["imports"]["desk"]["file"].endswith("desk.csv")


def test_bad_files_leave_the_index_intact(kb, tmp_path):
    glossary = Glossary.open()
    version, checksum = live(kb), json.loads((live(kb) / "meta.json").read_text())["checksum"]
    bad = [write(tmp_path / "empty.csv", ""), write(tmp_path / "cols.csv", "a,b\n1,2\n"), write(tmp_path / "rows.csv", "term,definition\nx,\n")]
    (tmp_path / "bin.jsonl").write_bytes(b"\x00\xff\x00")
    (tmp_path / "latin.csv").write_bytes("term,definition\ncaf\u00e9,x\n".encode("latin-1"))
    for path in bad + [tmp_path / "bin.jsonl", tmp_path / "latin.csv"]:
        with pytest.raises(RagError):
            glossary.import_file(path)
    with pytest.raises(RagError, match="reserved"):
        glossary.import_file(write(tmp_path / "ok.csv", "term,definition\nx,y\n"), source="builtin")
    assert live(kb) == version and json.loads((version / "meta.json").read_text())["checksum"] == checksum
    assert len(Glossary.open()) == len(glossary)


def test_corrupt_index_is_detected_and_rebuilt_from_entries(kb, tmp_path):
    glossary = Glossary.open()
    glossary.import_file(write(tmp_path / "desk.csv", "term,definition\nGizmo yield,A made-up yield on gizmos.\n"))
    damaged = live(kb)
    with open(damaged / "index.faiss", "r+b") as fh:
        fh.seek(200)
        fh.write(b"\xff" * 16)
    repaired = Glossary.open()
    assert any("index.faiss" in n and "checksum" in n and "rebuilt from its" in n for n in repaired.notices)
    assert live(kb) != damaged and repaired.sources().get("desk") == 1
    assert repaired.search("gizmo yield")[0].term == "Gizmo yield"
    assert not Glossary.open().notices  # the repaired index verifies cleanly


def test_unreadable_entries_fall_back_to_builtin_and_name_lost_sources(kb, tmp_path):
    Glossary.open().import_file(write(tmp_path / "desk.csv", "term,definition\nGizmo yield,A made-up yield on gizmos.\n"))
    for version in kb.glob("v-*"):
        (version / "entries.jsonl").write_text("garbage\n")
    repaired = Glossary.open()
    assert any("built-in glossary" in n and "desk" in n for n in repaired.notices)
    assert set(repaired.sources()) == {"builtin"}


def test_encoder_change_triggers_rebuild(kb):
    path = live(kb) / "meta.json"
    meta = json.loads(path.read_text())
    meta["encoder"] = "some-other-encoder"
    path.write_text(json.dumps(meta))
    glossary = Glossary.open()
    assert any("some-other-encoder" in n for n in glossary.notices)
    assert json.loads((live(kb) / "meta.json").read_text())["encoder"] == "all-MiniLM-L6-v2"
    with pytest.raises(RagError, match="neither the bundled"):
        Glossary.open(config=RagConfig(encoder="not/a/real/encoder"))


def test_builtin_update_refreshes_builtin_entries_keeping_imports(kb, tmp_path, monkeypatch):
    Glossary.open().import_file(write(tmp_path / "desk.csv", "term,definition\nGizmo yield,A made-up yield on gizmos.\n"))
    monkeypatch.setattr(builtin, "checksum", lambda: "changed")
    glossary = Glossary.open()
    assert any("built-in glossary was updated" in n for n in glossary.notices)
    assert glossary.sources()["desk"] == 1 and glossary.search("gizmo yield")[0].term == "Gizmo yield"


def test_readers_pick_up_other_writers_and_old_versions_are_pruned(kb, tmp_path, monkeypatch):
    reader, writer = Glossary.open(), Glossary.open()
    for i in range(3):
        writer.import_file(write(tmp_path / f"g{i}.csv", f"term,definition\nGizmo {i},Made-up thing number {i}.\n"))
    monkeypatch.setattr("rag.glossary._RELOAD_CHECK_S", 0.0)
    assert reader.search("Gizmo 2")[0].term == "Gizmo 2"
    assert len(list(kb.glob("v-*"))) <= store.KEEP_VERSIONS and not list(kb.glob(".tmp-*"))


def test_large_index_switches_to_hnsw(kb, tmp_path):
    config = RagConfig(flat_max=400)
    glossary = Glossary.open(config=config)
    rows = "".join(f"Gizmo {i},Made-up instrument number {i} for testing.\n" for i in range(10))
    glossary.import_file(write(tmp_path / "many.csv", "term,definition\n" + rows))
    stats = glossary.stats()
    assert stats["index_type"] == "hnsw" and "approximate" in stats["index_reason"]
    assert Glossary.open(config=config).search("What is a letter of credit?")[0].term == "letter of credit"
