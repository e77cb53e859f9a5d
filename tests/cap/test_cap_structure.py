"""The schema-level check: paths, messages, cardinality, order leniency."""

from __future__ import annotations

import pytest
from cap_samples import CAP11, alert_xml, replace_once

from service.cap import Issue, RejectionKind, check_cap_schema, validate_cap


def _errors(data: bytes, *, strict: bool = False) -> list[Issue]:
    return validate_cap(data, strict=strict).errors


def test_the_sample_alert_is_valid() -> None:
    result = validate_cap(alert_xml(), strict=True)
    assert result.accepted
    assert result.errors == []
    assert result.warnings == []


@pytest.mark.parametrize(
    ("old", "new", "path", "message"),
    [
        (
            "<msgType>Alert</msgType>",
            "<msgType></msgType>",
            "/alert/msgType",
            "expected one of Alert, Update, Cancel, Ack, Error; got ''",
        ),
        (
            "<status>Actual</status>",
            "<status>actual</status>",
            "/alert/status",
            "expected one of Actual, Exercise, System, Test, Draft; got 'actual'",
        ),
        (
            "<category>Met</category>",
            "<category>Weather</category>",
            "/alert/info[1]/category[1]",
            "expected one of Geo, Met, Safety, Security, Rescue, Fire, Health, Env, "
            "Transport, Infra, CBRNE, Other; got 'Weather'",
        ),
        (
            "<responseType>Evacuate</responseType>",
            "<responseType> Evacuate</responseType>",
            "/alert/info[1]/responseType[1]",
            "expected one of Shelter, Evacuate, Prepare, Execute, Avoid, Monitor, Assess, "
            "AllClear, None; got ' Evacuate'",
        ),
    ],
)
def test_enumerations_name_the_element_and_the_choices(
    old: str, new: str, path: str, message: str
) -> None:
    assert _errors(replace_once(alert_xml(), old, new)) == [Issue(path, message)]


@pytest.mark.parametrize(
    "sent",
    [
        "2026-11-22T14:00:00Z",
        "2026-11-22T14:00:00",
        "2026-11-22T14:00:00.5-05:00",
        "2026-11-22 14:00:00-05:00",
        "2026-02-30T14:00:00-05:00",
        "2026-11-22T14:00:00+15:00",
    ],
)
def test_cap_1_2_datetimes_need_whole_seconds_and_an_offset(sent: str) -> None:
    errors = _errors(alert_xml(sent=sent))
    assert [e.path for e in errors] == ["/alert/sent"]
    assert sent in errors[0].message


def test_cap_1_2_accepts_24_00_and_negative_zero_offset() -> None:
    assert validate_cap(alert_xml(sent="2026-11-21T24:00:00-00:00")).accepted


def test_cap_1_1_times_follow_xs_datetime_in_the_schema_and_cap_rules_after() -> None:
    # 'Z' is a valid xs:dateTime, so the CAP 1.1 schema passes it; CAP 1.1
    # itself forbids it, which our rules report at the same path.
    data = alert_xml(namespace=CAP11, response_type="Monitor", sent="2026-11-22T19:00:00Z")
    assert check_cap_schema(data, strict=True).accepted
    result = validate_cap(data)
    assert [e.path for e in result.errors] == ["/alert/sent"]


def test_cap_1_1_has_its_own_enumerations() -> None:
    data_11 = alert_xml(namespace=CAP11, response_type="Monitor", certainty="Very Likely")
    assert validate_cap(data_11).accepted
    assert _errors(alert_xml(certainty="Very Likely"))[0].path == "/alert/info[1]/certainty"
    avoid_11 = alert_xml(namespace=CAP11, response_type="AllClear")
    assert _errors(avoid_11)[0].path == "/alert/info[1]/responseType[1]"


def test_missing_required_elements_are_named() -> None:
    data = replace_once(alert_xml(), "<event>Storm surge</event>", "")
    data = replace_once(data, "<areaDesc>Harbour district</areaDesc>", "")
    assert [e.path for e in _errors(data)] == [
        "/alert/info[1]/area[1]/areaDesc",
        "/alert/info[1]/event",
    ]
    assert _errors(data)[1].message == "required element <event> is missing"


def test_a_duplicated_single_element_is_an_error_without_index() -> None:
    data = replace_once(alert_xml(), "<scope>Public</scope>", "<scope>Public</scope>" * 2)
    assert _errors(data) == [
        Issue("/alert/scope", "<scope> appears 2 times; it may appear at most once")
    ]


def test_repeated_elements_are_indexed_from_one() -> None:
    second_area = (
        "<area><areaDesc>B</areaDesc><polygon>1,1 1,2 2,2 2,1 1,1</polygon>"
        "<polygon>bad</polygon></area>"
    )
    data = replace_once(alert_xml(), "</area>", "</area>" + second_area)
    data = replace_once(data, "</info>", "</info>" + _info_copy(data))
    result = validate_cap(data)
    paths = [w.path for w in result.warnings]
    assert paths == ["/alert/info[1]/area[2]/polygon[2]", "/alert/info[2]/area[2]/polygon[2]"]


def _info_copy(data: bytes) -> str:
    text = data.decode()
    return text[text.index("<info>") : text.index("</info>") + len("</info>")]


def test_unknown_elements_are_ignored_with_a_warning_and_errors_when_strict() -> None:
    data = replace_once(
        alert_xml(), "<scope>Public</scope>", "<scope>Public</scope><colour>red</colour>"
    )
    data = replace_once(data, "</area>", '<x:extra xmlns:x="urn:x">1</x:extra></area>')
    result = validate_cap(data)
    assert result.accepted
    assert [w.path for w in result.warnings] == ["/alert/colour", "/alert/info[1]/area[1]/extra"]
    assert "unexpected element <colour>" in result.warnings[0].message
    assert "namespace 'urn:x'" in result.warnings[1].message
    assert all(w.message.endswith("read leniently: ignored") for w in result.warnings)
    strict = _errors(data, strict=True)
    assert [e.path for e in strict] == ["/alert/colour", "/alert/info[1]/area[1]/extra"]


def test_a_missing_category_reads_as_other() -> None:
    data = replace_once(alert_xml(), "<category>Met</category>", "")
    result = validate_cap(data)
    assert result.accepted
    assert result.alert is not None
    assert result.alert.infos[0].categories == ["Other"]
    assert [w.path for w in result.warnings] == ["/alert/info[1]/category"]
    assert [e.path for e in _errors(data, strict=True)] == ["/alert/info[1]/category"]


@pytest.mark.parametrize("name", ["urgency", "severity", "certainty"])
def test_a_missing_grading_value_is_an_error_while_the_info_classifies_itself(name: str) -> None:
    text = alert_xml().decode()
    start = text.index(f"<{name}>")
    data = (text[:start] + text[text.index(f"</{name}>") + len(f"</{name}>") :]).encode()
    assert [e.path for e in _errors(data)] == [f"/alert/info[1]/{name}"]
    unclassified = replace_once(data, "<category>Met</category>", "")
    result = validate_cap(unclassified)
    assert result.accepted, result.errors
    assert result.alert is not None
    assert getattr(result.alert.infos[0], name) == "Unknown"


def test_repeated_free_text_is_joined_and_other_repeats_stay_errors() -> None:
    data = replace_once(alert_xml(), "</headline>", "</headline><headline>second</headline>")
    result = validate_cap(data)
    assert result.accepted
    assert result.alert is not None
    assert result.alert.infos[0].headline == "Storm surge warning\n\nsecond"
    assert [w.path for w in result.warnings] == ["/alert/info[1]/headline"]
    twice = replace_once(alert_xml(), "</event>", "</event><event>Other</event>")
    assert [e.path for e in _errors(twice)] == ["/alert/info[1]/event"]


@pytest.mark.parametrize(
    ("attribute", "path"),
    [(' lang="en"', "/alert/@lang"), (' xmlns:o="urn:o" o:id="1"', "/alert/@id")],
)
def test_attributes_are_not_part_of_cap(attribute: str, path: str) -> None:
    data = replace_once(alert_xml(), "<alert ", f"<alert{attribute} ")
    assert [e.path for e in _errors(data)] == [path]


def test_text_inside_element_only_content_is_an_error() -> None:
    data = replace_once(alert_xml(), "<scope>Public</scope>", "<scope>Public</scope>stray")
    assert _errors(data) == [Issue("/alert", "text 'stray' is not allowed directly inside <alert>")]


def test_child_elements_inside_a_text_element_are_an_error() -> None:
    data = replace_once(alert_xml(), "<headline>Storm", "<headline><b>Storm</b>")
    assert [e.path for e in _errors(data)] == ["/alert/info[1]/headline"]


def test_order_deviations_are_warnings_naming_each_element() -> None:
    data = replace_once(
        alert_xml(),
        "<sender>warnings@example.org</sender>\n  <sent>2026-11-22T14:00:00-05:00</sent>",
        "<sent>2026-11-22T14:00:00-05:00</sent>\n  <sender>warnings@example.org</sender>",
    )
    data = replace_once(data, "<headline>Storm surge warning</headline>", "")
    data = replace_once(data, "<language>", "<headline>Storm surge warning</headline><language>")
    result = validate_cap(data)
    assert result.accepted
    assert result.alert is not None
    assert result.alert.sender == "warnings@example.org"
    assert result.warnings == [
        Issue(
            "/alert/info[1]/headline",
            "<headline> is out of schema order: it must come after <language>",
        ),
        Issue("/alert/sent", "<sent> is out of schema order: it must come after <sender>"),
    ]
    strict = validate_cap(data, strict=True)
    assert not strict.accepted
    assert strict.kind is RejectionKind.INVALID
    assert sorted(e.path for e in strict.errors) == ["/alert/info[1]/headline", "/alert/sent"]


def test_a_signature_before_info_is_an_order_deviation() -> None:
    signature = '<ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"/>'
    data = replace_once(alert_xml(), "<info>", signature + "<info>")
    result = validate_cap(data)
    assert result.accepted
    assert [w.path for w in result.warnings] == ["/alert/ds:Signature[1]"]
    assert (
        validate_cap(replace_once(alert_xml(), "</alert>", signature + "</alert>")).warnings == []
    )


def test_comments_and_processing_instructions_are_ignored() -> None:
    data = replace_once(
        alert_xml(),
        "<status>Actual</status>",
        "<!-- c --><status>Act<!-- x -->ual</status><?pi x?>",
    )
    assert validate_cap(data, strict=True).accepted


def test_an_empty_language_takes_the_default() -> None:
    result = validate_cap(alert_xml(language=""))
    assert result.accepted
    assert result.alert is not None
    assert result.alert.infos[0].language == "en-US"


def test_a_cancel_without_info_is_valid() -> None:
    references = (
        "<references>warnings@example.org,TOCSIN-TEST-0,2026-11-22T13:00:00-05:00</references>"
    )
    data = alert_xml(with_info=False, msg_type="Cancel", references=references)
    result = validate_cap(data, strict=True)
    assert result.accepted, result.errors
    assert result.alert is not None
    assert result.alert.infos == []
