// Decodes the grid's selection buffer (failwidgets/widgets/selection.py): an 8-byte header
// (layout uint8, 3 zero bytes, count uint32 little-endian), then either sorted [start, stop)
// runs as uint32 pairs (layout 1) or one bit per sample, bit i % 8 of byte i >> 3 (layout 2).

const EMPTY = 0;
const RANGES = 1;
const BITMAP = 2;
const HEADER = 8;

const NOTHING = Object.freeze({ size: 0, has: () => false });

function asDataView(data) {
  if (data instanceof DataView) return data;
  if (data instanceof ArrayBuffer) return new DataView(data);
  if (ArrayBuffer.isView(data)) return new DataView(data.buffer, data.byteOffset, data.byteLength);
  return null;
}

/** A selection {size, has(index)} from the buffer (an empty one for anything unreadable). */
export function decodeSelection(data) {
  const view = asDataView(data);
  if (!view || view.byteLength < HEADER) return NOTHING;
  const layout = view.getUint8(0);
  const size = view.getUint32(4, true);
  if (layout === EMPTY || size === 0) return NOTHING;
  if (layout === RANGES) {
    const n = Math.floor((view.byteLength - HEADER) / 8);
    const starts = new Uint32Array(n);
    const stops = new Uint32Array(n);
    for (let i = 0; i < n; i++) {
      starts[i] = view.getUint32(HEADER + 8 * i, true);
      stops[i] = view.getUint32(HEADER + 8 * i + 4, true);
    }
    const has = (index) => {
      let lo = 0;
      let hi = n - 1;
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (index < starts[mid]) hi = mid - 1;
        else if (index >= stops[mid]) lo = mid + 1;
        else return true;
      }
      return false;
    };
    return { size, has };
  }
  if (layout === BITMAP) {
    const bytes = view.byteLength - HEADER;
    const has = (index) => {
      if (!(index >= 0) || index >> 3 >= bytes) return false;
      return ((view.getUint8(HEADER + (index >> 3)) >> (index & 7)) & 1) === 1;
    };
    return { size, has };
  }
  return NOTHING;
}

/** A selection {size, has(index)} from a list of indices (for callers that hold one). */
export function selectionOf(indices) {
  const set = new Set(indices || []);
  return { size: set.size, has: (index) => set.has(index) };
}
