import { describe, expect, it } from "vitest";
import { decodeSelection, selectionOf } from "../src/selection.js";

// Buffers written by failwidgets.widgets.selection.encode_selection (Python).
const bytes = (list) => new DataView(new Uint8Array(list).buffer);

function members(selection, n) {
  return [...Array(n).keys()].filter((i) => selection.has(i));
}

describe("decodeSelection", () => {
  it("reads the bitmap layout", () => {
    const selection = decodeSelection(bytes([2, 0, 0, 0, 5, 0, 0, 0, 135, 0, 8]));
    expect(selection.size).toBe(5);
    expect(members(selection, 24)).toEqual([0, 1, 2, 7, 19]);
    const evens = decodeSelection(bytes([2, 0, 0, 0, 10, 0, 0, 0, 85, 85, 5]));
    expect(members(evens, 20)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18]);
  });

  it("reads the ranges layout with a binary search", () => {
    const runs = [[0, 3], [10, 11], [1000000, 2000000]];
    const view = new DataView(new ArrayBuffer(8 + 8 * runs.length));
    view.setUint8(0, 1);
    view.setUint32(4, 1000004, true);
    runs.forEach(([a, b], i) => {
      view.setUint32(8 + 8 * i, a, true);
      view.setUint32(12 + 8 * i, b, true);
    });
    const selection = decodeSelection(view);
    expect(selection.size).toBe(1000004);
    expect(members(selection, 12)).toEqual([0, 1, 2, 10]);
    expect(selection.has(999999)).toBe(false);
    expect(selection.has(1000000)).toBe(true);
    expect(selection.has(1999999)).toBe(true);
    expect(selection.has(2000000)).toBe(false);
  });

  it("treats empty, short or unknown buffers as nothing selected", () => {
    for (const data of [null, undefined, bytes([]), bytes([1, 0, 0]), bytes([0, 0, 0, 0, 0, 0, 0, 0]), bytes([9, 0, 0, 0, 1, 0, 0, 0, 1])]) {
      const selection = decodeSelection(data);
      expect(selection.size).toBe(0);
      expect(selection.has(0)).toBe(false);
    }
  });

  it("accepts an ArrayBuffer or a typed array as well as a DataView", () => {
    const raw = new Uint8Array([2, 0, 0, 0, 1, 0, 0, 0, 2]);
    expect(members(decodeSelection(raw), 8)).toEqual([1]);
    expect(members(decodeSelection(raw.buffer), 8)).toEqual([1]);
  });
});

describe("selectionOf", () => {
  it("wraps a list of indices", () => {
    const selection = selectionOf([3, 3, 5]);
    expect(selection.size).toBe(2);
    expect(selection.has(5)).toBe(true);
    expect(selection.has(4)).toBe(false);
  });
});
