"""CAP's own rules beyond the schema: each with a failing and a passing case."""

from __future__ import annotations

import pytest
from cap_samples import alert_xml

from service.cap import Issue, validate_cap
from service.cap.geometry import read_circle, read_polygon

REF = "<references>warnings@example.org,TOCSIN-TEST-0,2026-11-22T13:00:00-05:00</references>"


def _error_paths(data: bytes, *, strict: bool = False) -> list[str]:
    return [issue.path for issue in validate_cap(data, strict=strict).errors]


@pytest.mark.parametrize("msg_type", ["Update", "Cancel"])
def test_update_and_cancel_need_references(msg_type: str) -> None:
    assert _error_paths(alert_xml(msg_type=msg_type)) == ["/alert/references"]
    empty = alert_xml(msg_type=msg_type, references="<references> </references>")
    assert _error_paths(empty) == ["/alert/references"]
    assert _error_paths(alert_xml(msg_type=msg_type, references=REF)) == []


def test_references_are_parsed_into_triples() -> None:
    two = REF.replace(
        "</references>", " other@example.org,X-9,2026-11-22T12:00:00+01:00</references>"
    )
    result = validate_cap(alert_xml(msg_type="Update", references=two))
    assert result.alert is not None
    assert [(r.sender, r.identifier, r.sent_text) for r in result.alert.references] == [
        ("warnings@example.org", "TOCSIN-TEST-0", "2026-11-22T13:00:00-05:00"),
        ("other@example.org", "X-9", "2026-11-22T12:00:00+01:00"),
    ]
    assert result.alert.references[1].sent.utcoffset() is not None


@pytest.mark.parametrize(
    "references",
    [
        "warnings@example.org,TOCSIN-TEST-0",
        "warnings@example.org,TOCSIN-TEST-0,2026-11-22T13:00:00Z",
        "warnings@example.org,,2026-11-22T13:00:00-05:00",
        "a,b,c,2026-11-22T13:00:00-05:00",
    ],
)
def test_malformed_references_are_errors(references: str) -> None:
    data = alert_xml(msg_type="Update", references=f"<references>{references}</references>")
    result = validate_cap(data)
    assert [e.path for e in result.errors] == ["/alert/references"]
    assert "reference 1" in result.errors[0].message


def test_expires_must_follow_sent() -> None:
    assert _error_paths(alert_xml(expires="2026-11-22T13:59:59-05:00")) == [
        "/alert/info[1]/expires"
    ]
    # Same instant written in another zone is not after either.
    assert _error_paths(alert_xml(expires="2026-11-22T19:00:00+00:00")) == [
        "/alert/info[1]/expires"
    ]
    assert _error_paths(alert_xml(expires="2026-11-22T19:00:01+00:00")) == []


@pytest.mark.parametrize("tag", ["en-US", "zh-Hant-MO", "fr", "de-CH-1901", "es-419", "x-klingon"])
def test_well_formed_language_tags_pass(tag: str) -> None:
    assert _error_paths(alert_xml(language=tag)) == []


@pytest.mark.parametrize("tag", ["a", "en-a", "en-US-a-", "abcdefghi"])
def test_malformed_language_tags_fail(tag: str) -> None:
    paths = _error_paths(alert_xml(language=tag))
    assert paths == ["/alert/info[1]/language"]


@pytest.mark.parametrize(
    ("scope", "detail", "path"),
    [
        ("Restricted", "", "/alert/restriction"),
        ("Restricted", "<restriction>  </restriction>", "/alert/restriction"),
        ("Private", "", "/alert/addresses"),
    ],
)
def test_scope_needs_its_detail(scope: str, detail: str, path: str) -> None:
    assert _error_paths(alert_xml(scope=scope, scope_detail=detail)) == [path]


@pytest.mark.parametrize(
    ("scope", "detail"),
    [
        ("Restricted", "<restriction>staff only</restriction>"),
        ("Private", "<addresses>ops</addresses>"),
    ],
)
def test_scope_with_its_detail_passes(scope: str, detail: str) -> None:
    assert _error_paths(alert_xml(scope=scope, scope_detail=detail)) == []


@pytest.mark.parametrize("identifier", ["has space", "a,b", "a<b"])
def test_identifier_must_not_contain_separators(identifier: str) -> None:
    value = identifier.replace("<", "&lt;")
    assert _error_paths(alert_xml(identifier=value)) == ["/alert/identifier"]


POLYGON_PATH = "/alert/info[1]/area[1]/polygon[1]"


@pytest.mark.parametrize(
    ("polygon", "fragment"),
    [
        ("43.0,5.0 43.0,5.2 43.0,5.0", "at least 4 points"),
        ("43.0,5.0 43.0,5.2 43.2,5.2 43.2,5.0", "not closed"),
        ("43.0,5.0 43.0,5.2 43.2,5.0 43.2,5.2 43.0,5.0", "crosses itself"),
        ("91.0,5.0 43.0,5.2 43.2,5.2 91.0,5.0", "latitude 91.0"),
        ("43.0,181 43.0,5.2 43.2,5.2 43.0,181", "longitude 181.0"),
        ("43.0;5.0 43.0,5.2 43.2,5.2 43.0;5.0", "is not 'lat,lon'"),
        ("", "empty"),
    ],
)
def test_bad_polygons_warn_by_default_and_fail_when_strict(polygon: str, fragment: str) -> None:
    data = alert_xml(polygon=polygon)
    lenient = validate_cap(data)
    assert lenient.accepted
    assert [w.path for w in lenient.warnings] == [POLYGON_PATH]
    assert fragment in lenient.warnings[0].message
    assert _error_paths(data, strict=True) == [POLYGON_PATH]


def test_a_good_polygon_is_kept_in_cap_order() -> None:
    result = validate_cap(alert_xml(polygon="43.0,5.0 43.0,5.2 43.2,5.2 43.0,5.0"), strict=True)
    assert result.accepted
    assert result.alert is not None
    assert result.alert.infos[0].areas[0].polygons == [
        [(43.0, 5.0), (43.0, 5.2), (43.2, 5.2), (43.0, 5.0)]
    ]


def test_a_polygon_across_the_antimeridian_is_not_self_intersecting() -> None:
    fiji = "-16.0,179.0 -16.0,-179.0 -18.0,-179.0 -18.0,179.0 -16.0,179.0"
    assert read_polygon(fiji).problems == []
    assert validate_cap(alert_xml(polygon=fiji), strict=True).accepted


def test_a_bow_tie_across_the_antimeridian_is_still_self_intersecting() -> None:
    bow_tie = "-16.0,179.0 -18.0,-179.0 -16.0,-179.0 -18.0,179.0 -16.0,179.0"
    assert "crosses itself" in read_polygon(bow_tie).problems[0]


def test_self_intersecting_polygons_stay_in_the_model_for_repair() -> None:
    reading = read_polygon("43.0,5.0 43.0,5.2 43.2,5.0 43.2,5.2 43.0,5.0")
    assert reading.usable
    assert len(reading.points) == 5


@pytest.mark.parametrize(
    ("circle", "expected", "problem"),
    [
        ("43.1,5.1 2.5", (43.1, 5.1, 2.5), None),
        ("43.1,5.1  0.5", (43.1, 5.1, 0.5), None),
        ("43.1,5.1 0", (43.1, 5.1, 0.0), "greater than 0"),
        ("43.1,5.1 -1", None, "greater than 0"),
        ("43.1,5.1", None, "is not 'lat,lon radius'"),
        ("95,5.1 3", None, "latitude 95.0"),
    ],
)
def test_circles(
    circle: str, expected: tuple[float, float, float] | None, problem: str | None
) -> None:
    parsed, found = read_circle(circle)
    assert parsed == expected
    assert (found is None) == (problem is None)
    if problem is not None and found is not None:
        assert problem in found
    result = validate_cap(alert_xml(circle=circle), strict=True)
    assert result.accepted == (problem is None)
    if problem is not None:
        assert result.errors == [
            Issue("/alert/info[1]/area[1]/circle[1]", result.errors[0].message)
        ]
