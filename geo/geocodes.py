"""Shapes for CAP geocodes (SAME, FIPS6, UGC, EMMA_ID, NUTS, ISO 3166-2 ...).

A registry is a plain value built from GeoJSON FeatureCollections, one per
scheme, each feature carrying its code in a property. The service decides
where the collections come from (files, database); this module only maps
``(scheme, code)`` to a lon/lat geometry, normalised at the antimeridian.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import shapely
from shapely.geometry import shape
from shapely.geometry.base import BaseGeometry

from geo.antimeridian import normalize
from geo.errors import FormatError


def _key(scheme: str, code: str) -> tuple[str, str]:
    # valueName spelling varies between senders ("UGC", "ugc"); codes do not.
    return scheme.strip().casefold(), code.strip()


def _feature_shape(scheme: str, index: int, feature: Any, code_property: str) -> tuple[str, Any]:
    if not isinstance(feature, Mapping) or feature.get("type") != "Feature":
        raise FormatError(f"{scheme} feature {index}: not a GeoJSON Feature")
    code = (feature.get("properties") or {}).get(code_property)
    if code is None:
        raise FormatError(f"{scheme} feature {index}: no {code_property!r} property")
    try:
        geometry = normalize(shape(feature["geometry"]))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise FormatError(f"{scheme} feature {index}: bad geometry: {exc}") from None
    if geometry.is_empty:
        raise FormatError(f"{scheme} feature {index} ({code}): geometry has no area")
    return str(code), geometry


@dataclass(frozen=True)
class GeocodeRegistry:
    """Immutable map from (scheme, code) to a lon/lat geometry."""

    shapes: Mapping[tuple[str, str], BaseGeometry] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def from_geojson(
        cls, collections: Mapping[str, Mapping[str, Any]], *, code_property: str = "code"
    ) -> GeocodeRegistry:
        """Build from ``{scheme: FeatureCollection}``; features sharing a code are merged.

        Raises:
            FormatError: not a FeatureCollection, a feature without code or area.
        """
        parts: dict[tuple[str, str], list[Any]] = {}
        for scheme, collection in collections.items():
            if collection.get("type") != "FeatureCollection":
                raise FormatError(f"{scheme}: not a GeoJSON FeatureCollection")
            for index, feature in enumerate(collection.get("features") or []):
                code, geometry = _feature_shape(scheme, index, feature, code_property)
                parts.setdefault(_key(scheme, code), []).append(geometry)
        merged = {k: shapely.union_all(v) if len(v) > 1 else v[0] for k, v in parts.items()}
        return cls(MappingProxyType(merged))

    @classmethod
    def from_shapes(cls, shapes: Iterable[tuple[str, str, BaseGeometry]]) -> GeocodeRegistry:
        """Build from ``(scheme, code, lon/lat geometry)`` triples already checked and stored."""
        return cls(MappingProxyType({_key(s, c): g for s, c, g in shapes}))

    def merged(self, other: GeocodeRegistry) -> GeocodeRegistry:
        """A registry with both sets of shapes; ``other`` wins on equal keys."""
        return GeocodeRegistry(MappingProxyType({**self.shapes, **other.shapes}))

    def lookup(self, scheme: str, code: str) -> BaseGeometry | None:
        """The shape of a geocode, or None when the registry does not know it."""
        return self.shapes.get(_key(scheme, code))

    def __len__(self) -> int:
        return len(self.shapes)
