// anywidget adapter for the ImageGrid: maps the model's traits and custom messages onto the
// framework-free view in grid.js. Python owns the index list; the browser asks for pages.

import { createGridView } from "./grid.js";
import { decodeSelection } from "./selection.js";
import { bytesOf } from "./images.js";
import { onMessages, readTraits, saveTraits, snakeTraits, syncTraits, watchTraits } from "./adapter.js";

// view state name -> model trait: the name in snake_case; the page data version is private
const TRAITS = snakeTraits(
  ["total", "page", "pageSize", "sort", "hasScores", "thumbSize", "title", "nIncorrect", "nLabelIssues"],
  { version: "_data_version" },
);

export default {
  render({ model, el }) {
    const view = createGridView(el, {
      onRequestPage: ({ page, requestId }) => model.send({ type: "page", page, request_id: requestId }),
      onSelect: ({ mode, position, index }) => model.send({ type: "select", mode, position, index }),
      onChange: (patch) => {
        const values = {};
        for (const [name, value] of Object.entries(patch)) values[TRAITS[name]] = value;
        saveTraits(model, values);
      },
    });

    const syncState = () => view.setState(readTraits(model, TRAITS));
    const stopState = watchTraits(model, Object.values(TRAITS), syncState);
    const stopMessages = onMessages(model, {
      page: (message, buffers) => view.receivePage(message, buffers),
    });
    syncState();
    // The selection arrives as one binary buffer (ranges or a bitmap), never a JSON list;
    // as base64 text under the "dataurl" transport (front ends that drop buffers).
    const stopSelection = syncTraits(model, {
      _selection: (value) => view.setSelected(decodeSelection(bytesOf(value))),
    });

    return () => {
      stopState();
      stopSelection();
      stopMessages();
      view.destroy();
    };
  },
};
