// A small SVG drawing of the target area and each operator's covered area,
// from GET /api/v1/alerts/{id}/targeting.geojson. No tiles, nothing fetched.

import {h, svg} from "./dom.js";

const SIZE = 400;

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === "Polygon") return geometry.coordinates;
  if (geometry.type === "MultiPolygon") return geometry.coordinates.flat();
  if (geometry.type === "GeometryCollection") return geometry.geometries.flatMap(rings);
  return [];
}

function bounds(features) {
  const box = [Infinity, Infinity, -Infinity, -Infinity];
  for (const feature of features) {
    for (const ring of rings(feature.geometry)) {
      for (const [lon, lat] of ring) {
        box[0] = Math.min(box[0], lon); box[1] = Math.min(box[1], lat);
        box[2] = Math.max(box[2], lon); box[3] = Math.max(box[3], lat);
      }
    }
  }
  return box;
}

// Equirectangular with cos(latitude) so the shape is not stretched near the poles.
function projection(box) {
  const scaleX = Math.cos(((box[1] + box[3]) / 2) * Math.PI / 180);
  const width = Math.max((box[2] - box[0]) * scaleX, 1e-9);
  const height = Math.max(box[3] - box[1], 1e-9);
  const scale = (SIZE - 20) / Math.max(width, height);
  return {
    width: width * scale + 20,
    height: height * scale + 20,
    point: ([lon, lat]) => [10 + (lon - box[0]) * scaleX * scale, 10 + (box[3] - lat) * scale],
  };
}

function path(geometry, project) {
  return rings(geometry).map((ring) => ring.map((point, i) => {
    const [x, y] = project(point);
    return `${i === 0 ? "M" : "L"}${x.toFixed(1)},${y.toFixed(1)}`;
  }).join("") + "Z").join("");
}

export function drawMap(collection) {
  const features = ((collection && collection.features) || []).filter((f) => rings(f.geometry).length);
  if (features.length === 0) return null;
  const view = projection(bounds(features));
  const ordered = [...features].sort((a, b) => (a.properties.role === "target") - (b.properties.role === "target"));
  const drawing = svg("svg", {
    class: "map", viewBox: `0 0 ${view.width.toFixed(1)} ${view.height.toFixed(1)}`,
    role: "img", "aria-label": "target and covered areas",
  }, ordered.map((feature) => {
    const role = feature.properties.role === "target" ? "target" : "covered";
    const title = role === "target" ? "target area" : `covered by ${feature.properties.operator || "operator"}`;
    return svg("path", {class: role, d: path(feature.geometry, view.point), "fill-rule": "evenodd"},
      svg("title", {}, title));
  }));
  return h("figure", {className: "map-figure"}, drawing,
    h("figcaption", {className: "legend"},
      h("span", {}, h("i", {className: "bad"}), "target"),
      h("span", {}, h("i", {className: "sent"}), "covered (per operator)")));
}
