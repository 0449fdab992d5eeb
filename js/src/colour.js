// The diverging colour scale the tree and the lattice colour their nodes with.

// ColorBrewer RdBu, reversed: blue = better than the reference, red = worse. Both ends read on
// white and on JupyterLab's dark background; the light middle is outlined by the node stroke.
export const DIVERGING_STOPS = [
  "#053061", "#2166ac", "#4393c3", "#92c5de", "#d1e5f0", "#f7f7f7",
  "#fddbc7", "#f4a582", "#d6604d", "#b2182b", "#67001f",
]; // prettier-ignore

export const MISSING_COLOUR = "#9e9e9e";

function hexToRgb(hex) {
  const value = parseInt(hex.slice(1), 16);
  return [(value >> 16) & 255, (value >> 8) & 255, value & 255];
}

/** Colour of `value` on the diverging scale [-domain, +domain] (clamped; grey when missing). */
export function divergingColour(value, domain) {
  if (value == null || !Number.isFinite(value)) return MISSING_COLOUR;
  const d = domain > 0 ? domain : 1;
  const t = (Math.max(-d, Math.min(d, value)) + d) / (2 * d); // 0..1
  const scaled = t * (DIVERGING_STOPS.length - 1);
  const i = Math.min(DIVERGING_STOPS.length - 2, Math.floor(scaled));
  const f = scaled - i;
  const a = hexToRgb(DIVERGING_STOPS[i]);
  const b = hexToRgb(DIVERGING_STOPS[i + 1]);
  const mix = a.map((v, k) => Math.round(v + (b[k] - v) * f));
  return `rgb(${mix[0]}, ${mix[1]}, ${mix[2]})`;
}

/** Symmetric colour domain of `values`: the largest finite |value|, at least 0.05, rounded up
 * to 0.05, at most 1. */
export function symmetricDomain(values) {
  let largest = 0.05;
  for (const value of values) if (Number.isFinite(value)) largest = Math.max(largest, Math.abs(value));
  return Math.min(1, Math.ceil(largest / 0.05 - 1e-9) * 0.05);
}
