"""Tocsin's pure geo library: cells, alert areas, cell index and resolution.

No database, web framework, queue, settings or environment: values in,
values out. Geometry is WGS84 lon/lat; areas are measured in an equal-area
projection and distances in a local metric frame, never in degrees.
"""

from geo.areas import (
    AlertArea,
    AreaContribution,
    CapArea,
    Circle,
    Geocode,
    build_alert_area,
    parse_cap_circle,
    parse_cap_polygon,
)
from geo.cells import (
    Cell,
    CellImport,
    CellTable,
    Omni,
    PolygonCoverage,
    RowError,
    Sector,
    Technology,
    import_cells,
)
from geo.coverage import CoverageShape, coverage_polygons
from geo.errors import (
    AreaError,
    AreaTooComplexError,
    CellError,
    FormatError,
    GeoError,
    IndexFormatError,
    UntargetableAreaError,
)
from geo.geocodes import GeocodeRegistry
from geo.index import CellIndex
from geo.jurisdiction import JurisdictionCheck, OutsideArea, check_jurisdiction
from geo.readers import CsvCellReader, GeoJsonCellReader, OpenCellIdReader, write_cells_csv
from geo.resolve import (
    INTERSECTS,
    Intersects,
    MinOverlap,
    Policy,
    ResolutionMetrics,
    ResolutionResult,
    parse_policy,
    resolve,
    resolve_offline,
)
from geo.simplify import ComplexityLimits, Simplification
from geo.synth import synthesize_network, synthesize_table
from geo.table_io import decode_table, encode_table

__all__ = [
    "INTERSECTS",
    "AlertArea",
    "AreaContribution",
    "AreaError",
    "AreaTooComplexError",
    "CapArea",
    "Cell",
    "CellError",
    "CellImport",
    "CellIndex",
    "CellTable",
    "Circle",
    "ComplexityLimits",
    "CoverageShape",
    "CsvCellReader",
    "FormatError",
    "GeoError",
    "GeoJsonCellReader",
    "Geocode",
    "GeocodeRegistry",
    "IndexFormatError",
    "Intersects",
    "JurisdictionCheck",
    "MinOverlap",
    "Omni",
    "OpenCellIdReader",
    "OutsideArea",
    "Policy",
    "PolygonCoverage",
    "ResolutionMetrics",
    "ResolutionResult",
    "RowError",
    "Sector",
    "Simplification",
    "Technology",
    "UntargetableAreaError",
    "build_alert_area",
    "check_jurisdiction",
    "coverage_polygons",
    "decode_table",
    "encode_table",
    "import_cells",
    "parse_cap_circle",
    "parse_cap_polygon",
    "parse_policy",
    "resolve",
    "resolve_offline",
    "synthesize_network",
    "synthesize_table",
    "write_cells_csv",
]
