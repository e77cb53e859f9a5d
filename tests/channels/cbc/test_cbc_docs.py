"""docs/operators.md stays true: its examples are parsed, decoded and re-signed here."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from channels.cbc import StatusReport, sign
from channels.cbc.jobs import CbcJob, sign_request, signed_request_headers
from channels.cbs import CustomProfile
from channels.cbs.decoder import decode_content
from channels.cbs.wac_decoder import decode_warning_area

DOC = (Path(__file__).parents[3] / "docs" / "operators.md").read_text(encoding="utf-8")


def _json_blocks() -> list[dict[str, object]]:
    blocks = re.findall(r"```json\n(.*?)```", DOC, flags=re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_the_job_example_is_a_valid_job_whose_page_reads_back() -> None:
    (job,) = [CbcJob.model_validate(b) for b in _json_blocks() if "part" in b]
    assert job.key == job.part.group_key
    assert job.serial_number == (1 << 14) | (100 << 4)  # PLMN-wide, code 100, update 0
    (page,) = job.pages
    language, text = decode_content(bytes.fromhex(page), job.dcs, job.page_lengths[0])
    assert (language, text) == ("en", "Flash flood warning. Move to higher ground now.")
    area = decode_warning_area(bytes.fromhex(job.warning_area_coordinates or ""))
    assert area.max_wait_s == 30
    assert len(area.circles) == 1


def test_the_status_callback_example_is_a_valid_report() -> None:
    (report,) = [StatusReport.model_validate(b) for b in _json_blocks() if "statuses" in b]
    assert [s.status for s in report.statuses] == ["broadcasting", "failed"]


def test_the_worked_request_signature_examples() -> None:
    body = b'{"key":"dispatch-01J9Z6"}'
    post = "sha256=e5806d6ac243f36d00e652dd680528094b7ce37d866ecb7f9012eb0715bcc98f"
    delete = "sha256=513f1d9e8d3144f758414ea1bb96fd56b45c570d95eef324345205ee5a0af6f5"
    health = "sha256=1b192e9c679460c201598fd85e151fe60625f12d1853c752dc01a8ac9710aec8"
    key = "dispatch-01J9Z6"
    stamp = 1767268800
    assert sign_request("example-secret", stamp, body, method="POST", target="/jobs", key=key) == (
        post
    )
    target = f"/jobs/{key}"
    assert sign_request("example-secret", stamp, b"", method="DELETE", target=target, key=key) == (
        delete
    )
    assert sign_request("example-secret", stamp, b"", method="GET", target="/health", key=None) == (
        health
    )
    for value in (post, delete, health):
        assert value in DOC
    assert "printf '1767268800\\nPOST\\n/jobs\\ndispatch-01J9Z6\\n%s'" in DOC


def test_the_python_verifier_in_the_docs_agrees_with_tocsin() -> None:
    (code,) = re.findall(r"```python\n(.*?)```", DOC, flags=re.DOTALL)
    namespace: dict[str, Any] = {}
    exec(code, namespace)  # noqa: S102 (our own documentation)
    valid = namespace["valid"]
    body = b'{"key":"k"}'
    headers = signed_request_headers("s", 1767268800, body, method="PUT", target="/jobs/k", key="k")
    assert valid(b"s", "PUT", "/jobs/k", headers, body)
    assert not valid(b"s", "DELETE", "/jobs/k", headers, body)
    bare = signed_request_headers("s", 1767268800, b"", method="GET", target="/health", key=None)
    assert valid(b"s", "GET", "/health", bare, b"")


def test_the_worked_callback_signature_example() -> None:
    body = b'{"key":"dispatch-01J9Z6"}'
    expected = "sha256=92533475f4d34939c6e9a7199a8131262551a69d1ce9c1f3a332e4f4639e1d45"
    empty = "sha256=20e54ac76f54836737313e4dcae0d68851d9717391fd316466dcd9010ba5a515"
    assert sign("example-secret", 1767268800, body) == expected
    assert sign("example-secret", 1767268800, b"") == empty
    assert expected in DOC
    assert empty in DOC


def test_the_custom_profile_example_is_accepted() -> None:
    (profile,) = [CustomProfile.model_validate(b) for b in _json_blocks() if "rules" in b]
    assert [rule.identifier for rule in profile.rules] == [4370, 4371, 4381, 4398]
