"""A synthetic national network, realistic enough to test and benchmark against.

Real inventories are not public, and OpenCelliD has positions but no
sectors. The model, deterministic for a seed:

* sites fall in a few dense cities (Gaussian density, tens of km wide), more
  numerous towns (a few km wide) and sparse uniform countryside;
* most sites have three sectors 120° apart (random orientation, beamwidth
  around 65°); some are omni;
* each site carries several layers (2G, 3G, 4G on up to three bands, 5G),
  each a separate cell on the same sector; lower bands reach further;
* ranges 0.3-15 km: hundreds of metres in cities, kilometres in towns, up to
  15 km in the countryside.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from geo.cells import KIND_OMNI, KIND_SECTOR, TECHNOLOGIES, Cell, CellTable, Technology

BBox = tuple[float, float, float, float]
_KM_PER_DEG = 111.32
MIN_RANGE_M, MAX_RANGE_M = 300.0, 15_000.0
SECTOR_SHARE = 0.88
# (technology, range factor, probability in city, town, countryside)
_LAYERS = (
    (Technology.G2, 1.0, 0.5, 0.6, 0.7),
    (Technology.G3, 0.6, 0.4, 0.3, 0.2),
    (Technology.G4, 1.0, 0.6, 0.8, 1.0),
    (Technology.G4, 0.7, 1.0, 0.9, 0.4),
    (Technology.G4, 0.45, 0.7, 0.4, 0.05),
    (Technology.G5, 0.35, 0.7, 0.3, 0.05),
)
# (share of sites, median site range in m, log-spread) per class: city, town, countryside
_CLASSES = ((0.35, 700.0, 0.35), (0.20, 2500.0, 0.35), (0.45, 8000.0, 0.35))


def _clusters(
    rng: np.random.Generator, n: int, count: int, sigma_km: tuple[float, float], bbox: BBox
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """``n`` points around ``count`` centres (Zipf-weighted) with Gaussian spread."""
    west, south, east, north = bbox
    cx = rng.uniform(west + 0.1 * (east - west), east - 0.1 * (east - west), count)
    cy = rng.uniform(south + 0.1 * (north - south), north - 0.1 * (north - south), count)
    sigma = rng.uniform(*sigma_km, count)
    weights = 1.0 / np.sqrt(np.arange(1, count + 1))
    which = rng.choice(count, size=n, p=weights / weights.sum())
    dy = rng.normal(0.0, 1.0, n) * sigma[which] / _KM_PER_DEG
    dx = rng.normal(0.0, 1.0, n) * sigma[which] / (_KM_PER_DEG * np.cos(np.radians(cy[which])))
    return np.clip(cx[which] + dx, west, east), np.clip(cy[which] + dy, south, north)


def _sites(
    rng: np.random.Generator, sites: int, bbox: BBox
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.int64]]:
    """Site positions and class (0 city, 1 town, 2 countryside), in random order."""
    n_city = int(sites * _CLASSES[0][0])
    n_town = int(sites * _CLASSES[1][0])
    n_rural = sites - n_city - n_town
    cities = int(np.clip(sites // 15_000, 2, 8))
    towns = int(np.clip(sites // 1_500, 5, 80))
    x1, y1 = _clusters(rng, n_city, cities, (12.0, 30.0), bbox)
    x2, y2 = _clusters(rng, n_town, towns, (3.0, 6.0), bbox)
    x3 = rng.uniform(bbox[0], bbox[2], n_rural)
    y3 = rng.uniform(bbox[1], bbox[3], n_rural)
    cls = np.repeat(np.arange(3), (n_city, n_town, n_rural))
    order = rng.permutation(sites)
    return np.concatenate((x1, x2, x3))[order], np.concatenate((y1, y2, y3))[order], cls[order]


def _cell_ids(
    mcc: str, mnc: str, tech: Technology, site: npt.NDArray[np.int64], cell: npt.NDArray[np.int64]
) -> list[str]:
    """CGI for 2G/3G (MCC-MNC-LAC-CI), ECGI for 4G, NCGI for 5G."""
    if tech is Technology.G2:
        return [
            f"{mcc}-{mnc}-{1 + s // 16000}-{(s % 16000) * 4 + c}"
            for s, c in zip(site.tolist(), cell.tolist(), strict=True)
        ]
    if tech is Technology.G3:
        return [
            f"{mcc}-{mnc}-{30001 + s // 16000}-{s * 4 + c}"
            for s, c in zip(site.tolist(), cell.tolist(), strict=True)
        ]
    shift = 8 if tech is Technology.G4 else 12
    base = 0 if tech is Technology.G4 else 1 << 20
    return [
        f"{mcc}-{mnc}-{((base + s) << shift) | c}"
        for s, c in zip(site.tolist(), cell.tolist(), strict=True)
    ]


def _layer_cells(
    rng_bw: npt.NDArray[np.float64],
    az0: npt.NDArray[np.float64],
    sectored: npt.NDArray[np.bool_],
    s: npt.NDArray[np.int64],
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Site and sector index of each cell of one layer (sector 3 = the omni cell)."""
    sec = s[sectored[s]]
    omni = s[~sectored[s]]
    site = np.concatenate((np.repeat(sec, 3), omni))
    sector = np.concatenate((np.tile(np.arange(3), len(sec)), np.full(len(omni), 3)))
    return site, sector


def synthesize_table(
    sites: int,
    bbox: BBox,
    seed: int,
    mcc: str = "001",
    mnc: str = "01",
    *,
    max_cells: int | None = None,
) -> CellTable:
    """A synthetic network of ``sites`` sites (about 8-9 cells each) inside ``bbox``.

    ``bbox`` is (min_lon, min_lat, max_lon, max_lat); the same seed always
    gives the same network. ``max_cells`` truncates (sites are in random
    order, so truncation does not bias the geography).
    """
    rng = np.random.default_rng(seed)
    lon, lat, cls = _sites(rng, sites, bbox)
    median = np.array([c[1] for c in _CLASSES])[cls]
    spread = np.array([c[2] for c in _CLASSES])[cls]
    base = np.clip(median * np.exp(rng.normal(0.0, 1.0, sites) * spread), MIN_RANGE_M, MAX_RANGE_M)
    sectored = rng.random(sites) < SECTOR_SHARE
    az0 = rng.uniform(0.0, 120.0, sites)
    bw = np.clip(rng.normal(65.0, 5.0, (sites, 3)), 50.0, 90.0)
    chosen = np.stack([rng.random(sites) < np.array(lay[2:])[cls] for lay in _LAYERS])
    chosen[2] |= ~chosen.any(axis=0)  # every site carries at least the 4G coverage layer
    parts: list[tuple[int, Technology, float, npt.NDArray[np.int64], npt.NDArray[np.int64]]] = []
    for index, (tech, factor, *_) in enumerate(_LAYERS):
        site, sector = _layer_cells(bw, az0, sectored, np.flatnonzero(chosen[index]))
        parts.append((index, tech, factor, site, sector))
    return _assemble(parts, lon, lat, base, az0, bw, mcc, mnc, max_cells)


def _assemble(
    parts: list[tuple[int, Technology, float, npt.NDArray[np.int64], npt.NDArray[np.int64]]],
    lon: npt.NDArray[np.float64],
    lat: npt.NDArray[np.float64],
    base: npt.NDArray[np.float64],
    az0: npt.NDArray[np.float64],
    bw: npt.NDArray[np.float64],
    mcc: str,
    mnc: str,
    max_cells: int | None,
) -> CellTable:
    """Concatenate the layers, order cells by site (as inventories are), build columns."""
    site = np.concatenate([p[3] for p in parts])
    sector = np.concatenate([p[4] for p in parts])
    layer = np.concatenate([np.full(len(p[3]), p[0]) for p in parts])
    order = np.lexsort((sector, layer, site))[:max_cells]
    site, sector, layer = site[order], sector[order], layer[order]
    factor = np.array([lay[1] for lay in _LAYERS])[layer]
    tech_codes = np.array([TECHNOLOGIES.index(lay[0]) for lay in _LAYERS], dtype=np.uint8)[layer]
    omni = sector == 3
    ids = np.empty(len(site), dtype=object)
    for index, tech, *_ in parts:
        rows = np.flatnonzero(layer == index)
        carrier = index - 2 if tech is Technology.G4 else 0
        ids[rows] = _cell_ids(mcc, mnc, tech, site[rows], sector[rows] + 16 * carrier)
    safe_sector = np.where(omni, 0, sector)
    return CellTable(
        ids=ids.astype(np.str_),
        technology=tech_codes,
        lon=lon[site],
        lat=lat[site],
        kind=np.where(omni, KIND_OMNI, KIND_SECTOR).astype(np.uint8),
        azimuth=np.where(omni, np.nan, (az0[site] + 120.0 * safe_sector) % 360.0),
        beamwidth=np.where(omni, np.nan, bw[site, safe_sector]),
        range_m=np.clip(base[site] * factor, MIN_RANGE_M, MAX_RANGE_M),
    )


def synthesize_network(
    sites: int, bbox: BBox, seed: int, mcc: str = "001", mnc: str = "01"
) -> Iterator[Cell]:
    """The cells of :func:`synthesize_table`, one by one (for writers and readers)."""
    return iter(synthesize_table(sites, bbox, seed, mcc, mnc))
