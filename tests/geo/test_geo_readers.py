"""Cell readers: every row is a cell or a RowError with its line; nothing vanishes."""

from __future__ import annotations

import io
import json

import pytest

from geo import (
    Cell,
    CsvCellReader,
    FormatError,
    GeoJsonCellReader,
    Omni,
    OpenCellIdReader,
    PolygonCoverage,
    RowError,
    Sector,
    Technology,
    import_cells,
    synthesize_network,
    write_cells_csv,
)

HEADER = "cell_id,technology,lon,lat,azimuth,beamwidth,range_m,wkt\n"


def _read_csv(text: str) -> list[Cell | RowError]:
    return list(CsvCellReader(io.StringIO(text)))


def test_csv_sector_omni_and_polygon_rows() -> None:
    rows = _read_csv(
        HEADER
        + "234-15-1-1,4G,-0.1,51.5,120,65,1500,\n"
        + "234-15-1-2,GSM,-0.1,51.5,,,8000,\n"
        + '234-15-1-3,5g,-0.1,51.5,,,,"POLYGON ((-0.1 51.5, -0.09 51.5, -0.09 51.51, -0.1 51.5))"\n'
    )
    assert rows[0] == Cell("234-15-1-1", Technology.G4, -0.1, 51.5, Sector(120.0, 65.0, 1500.0))
    assert rows[1] == Cell("234-15-1-2", Technology.G2, -0.1, 51.5, Omni(8000.0))
    assert isinstance(rows[2], Cell)
    assert isinstance(rows[2].coverage, PolygonCoverage)
    assert rows[2].technology is Technology.G5


def test_csv_malformed_rows_carry_their_line_numbers() -> None:
    text = (
        HEADER
        + "a,4G,10,50,90,65,1000,\n"  # line 2: fine
        + "b,6G,10,50,90,65,1000,\n"  # line 3: technology
        + "c,4G,200,50,90,65,1000,\n"  # line 4: lon
        + "\n"  # line 5: blank, not a row
        + "d,4G,10,50,90,,1000,\n"  # line 6: azimuth without beamwidth
        + "e,4G,10,50,90,65,abc,\n"  # line 7: range
        + "f,4G,10,50\n"  # line 8: short row
        + "g,4G,10,50,90,65,0,\n"  # line 9: zero range
        + "h,4G,10,50,,,1000,\n"  # line 10: fine (omni)
    )
    rows = _read_csv(text)
    errors = {r.line: r.message for r in rows if isinstance(r, RowError)}
    assert sorted(errors) == [3, 4, 6, 7, 8, 9]
    assert "technology" in errors[3]
    assert "lon/lat" in errors[4]
    assert "range_m" in errors[7]
    assert "fields" in errors[8]
    assert [r.cell_id for r in rows if isinstance(r, Cell)] == ["a", "h"]


@pytest.mark.parametrize(
    "header",
    ["", "cell_id,technology,lon,lat,azimuth,beamwidth\n", HEADER.replace("azimuth", "azimith")],
)
def test_csv_bad_header_is_a_format_error(header: str) -> None:
    with pytest.raises(FormatError):
        _read_csv(header + "a,4G,10,50,90,65,1000,\n")


def test_import_counts_add_up_and_duplicates_are_rejected_with_line() -> None:
    text = HEADER + "a,4G,10,50,90,65,1000,\nb,4G,10,50,x,65,1000,\na,4G,11,50,90,65,1000,\n"
    result = import_cells(CsvCellReader(io.StringIO(text)))
    assert (result.rows, result.accepted, result.rejected) == (3, 1, 2)
    assert result.rows == result.accepted + result.rejected
    assert RowError(4, "duplicate cell_id 'a'") in result.errors
    assert result.table.ids.tolist() == ["a"]


def test_csv_writer_round_trips_a_synthetic_network() -> None:
    cells = list(synthesize_network(40, (10.0, 50.0, 11.0, 51.0), seed=3))
    polygon = Cell(
        "p1",
        Technology.G4,
        10.5,
        50.5,
        PolygonCoverage(((10.5, 50.5), (10.6, 50.5), (10.6, 50.6), (10.5, 50.5))),
    )
    buffer = io.StringIO()
    assert write_cells_csv([*cells, polygon], buffer) == len(cells) + 1
    back = _read_csv(buffer.getvalue())
    assert back == [*cells, polygon]


OCID = (
    "radio,mcc,net,area,cell,unit,lon,lat,range,samples,changeable,created,updated,averageSignal\n"
    "LTE,262,2,801,86355,0,13.285512,52.522202,1000,7,1,1282569574,1300155341,0\n"
    "GSM,262,2,801,1795,0,13.276907,52.525714,5716,9,1,1282569574,1300155341,0\n"
    "CDMA,262,2,801,1796,0,13.2,52.5,500,9,1,1282569574,1300155341,0\n"
    "UMTS,262,x,801,1797,0,13.2,52.5,500,9,1,1282569574,1300155341,0\n"
    "NR,262,2,801,1798,0,13.2,52.5,0,9,1,1282569574,1300155341,0\n"
    "NR,262,2,801,1799,0,13.2,52.5,300,9,1,1282569574,1300155341\n"
)


@pytest.mark.parametrize("with_header", [True, False])
def test_opencellid_rows_with_or_without_header(with_header: bool) -> None:
    text = OCID if with_header else OCID.split("\n", 1)[1]
    offset = 0 if with_header else -1
    rows = list(OpenCellIdReader(io.StringIO(text)))
    assert rows[0] == Cell("262-2-801-86355", Technology.G4, 13.285512, 52.522202, Omni(1000.0))
    assert rows[1] == Cell("262-2-801-1795", Technology.G2, 13.276907, 52.525714, Omni(5716.0))
    errors = [r for r in rows if isinstance(r, RowError)]
    assert [e.line for e in errors] == [4 + offset, 5 + offset, 6 + offset, 7 + offset]
    assert "CDMA" in errors[0].message
    assert "net" in errors[1].message
    assert "range" in errors[2].message
    assert "14 fields" in errors[3].message


def _collection(features: list[object], indent: int | None = 1) -> str:
    return json.dumps(
        {"type": "FeatureCollection", "name": "x", "features": features}, indent=indent
    )


def _point(cell_id: str, **props: object) -> dict[str, object]:
    return {
        "type": "Feature",
        "geometry": {"type": "Point", "coordinates": [10.0, 50.0]},
        "properties": {"cell_id": cell_id, "technology": "4G", **props},
    }


def test_geojson_points_polygons_and_errors_with_lines() -> None:
    polygon = {
        "type": "Feature",
        "geometry": {
            "type": "Polygon",
            "coordinates": [[[10, 50], [10.1, 50], [10.1, 50.1], [10, 50]]],
        },
        "properties": {"cell_id": "poly", "technology": "LTE"},
    }
    features = [
        _point("s", azimuth=90, beamwidth=60, range_m=2000),
        _point("o", range_m=900),
        _point("bad", azimuth="east", beamwidth=60, range_m=2000),
        polygon,
        {
            "type": "Feature",
            "geometry": {"type": "LineString", "coordinates": []},
            "properties": {"cell_id": "l", "technology": "4G"},
        },
    ]
    text = _collection(features, indent=None).replace("}, {", "},\n{")
    reader = GeoJsonCellReader(io.StringIO(text))
    rows = list(reader)
    assert rows[0] == Cell("s", Technology.G4, 10.0, 50.0, Sector(90.0, 60.0, 2000.0))
    assert rows[1] == Cell("o", Technology.G4, 10.0, 50.0, Omni(900.0))
    assert isinstance(rows[2], RowError)
    assert rows[2].line == 3
    assert "azimuth" in rows[2].message
    assert isinstance(rows[3], Cell)
    assert isinstance(rows[3].coverage, PolygonCoverage)
    assert isinstance(rows[4], RowError)
    assert rows[4].line == 5


def test_geojson_streams_in_small_reads() -> None:
    features = [_point(f"c{i}", range_m=500 + i) for i in range(3000)]

    class Trickle(io.StringIO):
        def read(self, size: int | None = -1, /) -> str:
            return super().read(min(size or 1, 777) if size and size > 0 else 777)

    rows = list(GeoJsonCellReader(Trickle(_collection(features))))
    assert len(rows) == 3000
    assert all(isinstance(r, Cell) for r in rows)
    assert rows[-1] == Cell("c2999", Technology.G4, 10.0, 50.0, Omni(3499.0))


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "Feature"}',
        '{"type": "FeatureCollection", "features": [{"a": 1} {"b": 2}]}',
        "[1, 2]",
    ],
)
def test_geojson_broken_documents_are_format_errors(text: str) -> None:
    with pytest.raises(FormatError):
        list(GeoJsonCellReader(io.StringIO(text)))
