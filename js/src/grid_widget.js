// anywidget adapter for the ImageGrid: maps the model's traits and custom messages onto the
// framework-free view in grid.js. Python owns the index list; the browser asks for pages.

import { createGridView } from "./grid.js";
import { decodeSelection } from "./selection.js";
import { bytesOf } from "./images.js";

// view state name -> model trait
const TRAITS = {
  total: "total",
  page: "page",
  pageSize: "page_size",
  sort: "sort",
  hasScores: "has_scores",
  thumbSize: "thumb_size",
  title: "title",
  version: "_data_version",
  nIncorrect: "n_incorrect",
  nLabelIssues: "n_label_issues",
};

export default {
  render({ model, el }) {
    const view = createGridView(el, {
      onRequestPage: ({ page, requestId }) => model.send({ type: "page", page, request_id: requestId }),
      onSelect: ({ mode, position, index }) => model.send({ type: "select", mode, position, index }),
      onChange: (patch) => {
        for (const [name, value] of Object.entries(patch)) model.set(TRAITS[name], value);
        model.save_changes();
      },
    });

    const syncState = () => {
      const state = {};
      for (const [name, trait] of Object.entries(TRAITS)) state[name] = model.get(trait);
      view.setState(state);
    };
    // The selection arrives as one binary buffer (ranges or a bitmap), never a JSON list;
    // as base64 text under the "dataurl" transport (front ends that drop buffers).
    const syncSelected = () => view.setSelected(decodeSelection(bytesOf(model.get("_selection"))));
    const onMessage = (message, buffers) => {
      if (message && message.type === "page") view.receivePage(message, buffers);
    };

    const stateEvents = Object.values(TRAITS).map((trait) => `change:${trait}`);
    for (const event of stateEvents) model.on(event, syncState);
    model.on("change:_selection", syncSelected);
    model.on("msg:custom", onMessage);
    syncState();
    syncSelected();

    return () => {
      for (const event of stateEvents) model.off(event, syncState);
      model.off("change:_selection", syncSelected);
      model.off("msg:custom", onMessage);
      view.destroy();
    };
  },
};
