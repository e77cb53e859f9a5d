"""Reading back a stored alert builds the very model intake built, without the checks."""

from __future__ import annotations

from service.cap import read_accepted_cap, validate_cap
from tests.cap.conftest import CAP_CORPUS


def test_every_accepted_corpus_file_reads_back_to_the_model_intake_built() -> None:
    accepted = 0
    for path in sorted(CAP_CORPUS.rglob("*.xml")):
        data = path.read_bytes()
        verdict = validate_cap(data, max_bytes=len(data) + 1)
        if verdict.alert is None:
            continue
        accepted += 1
        assert read_accepted_cap(data) == verdict.alert, path.name
    assert accepted >= 20  # the corpus is there, and most of it is accepted


def test_bytes_that_no_longer_parse_as_cap_read_as_none() -> None:
    assert read_accepted_cap(b"<alert") is None
    assert read_accepted_cap(b"<feed xmlns='http://www.w3.org/2005/Atom'/>") is None
