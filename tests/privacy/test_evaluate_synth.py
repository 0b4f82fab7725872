"""The scrubber measured on the synthetic hospital's identifier gold (a small hospital, fixed seed)."""

from __future__ import annotations

from pathlib import Path

import pytest

from medlake.errors import InputNotFound
from medlake.privacy.evaluate import evaluate


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medlake.synth import SynthConfig, generate

    out = tmp_path_factory.mktemp("synth") / "hospital"
    generate(SynthConfig(patients=40, seed=11, out=out, max_dicom_files=0))
    return out


def test_recall_on_the_identifier_gold(hospital: Path) -> None:
    ev = evaluate(hospital)
    recall = {t: s.recall for t, s in ev.by_type.items()}
    assert ev.notes > 50 and ev.by_type["NAME"].gold > 50
    assert recall["ID"] >= 0.99 and recall["PHONE"] >= 0.99
    assert recall["NAME"] >= 0.97
    assert recall["ADDRESS"] >= 0.97 and recall["MRN"] >= 0.97
    assert ev.over_scrubbed < 0.05


def test_recognisers_alone_without_the_registry(hospital: Path) -> None:
    ev = evaluate(hospital, use_registry=False)
    assert ev.by_type["NAME"].recall >= 0.95
    assert ev.by_type["ID"].recall >= 0.99


def test_missing_gold(tmp_path: Path) -> None:
    with pytest.raises(InputNotFound):
        evaluate(tmp_path)
