"""Streaming cell inventory readers: each yields a Cell or a RowError per row."""

from geo.readers.geojson_cells import GeoJsonCellReader, feature_to_cell
from geo.readers.opencellid import OpenCellIdReader
from geo.readers.tocsin_csv import CsvCellReader, write_cells_csv

__all__ = [
    "CsvCellReader",
    "GeoJsonCellReader",
    "OpenCellIdReader",
    "feature_to_cell",
    "write_cells_csv",
]
