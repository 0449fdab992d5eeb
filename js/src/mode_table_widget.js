// anywidget adapter for the Explorer's failure-mode table: traits in, row clicks out (a custom
// message), header clicks set the synced sort traits.

import { createModeTableView } from "./mode_table.js";

// view state name -> model trait
const TRAITS = {
  rows: "rows",
  sortBy: "sort_by",
  ascending: "ascending",
  selectedId: "selected_id",
  className: "class_name",
  caption: "caption",
  busy: "busy",
  agreement: "agreement",
};

export default {
  render({ model, el }) {
    const view = createModeTableView(el, {
      onSelect: (id) => model.send({ type: "select", id }),
      onSort: (sortBy, ascending) => {
        model.set("sort_by", sortBy);
        model.set("ascending", ascending);
        model.save_changes();
      },
    });
    const readState = () => {
      const state = {};
      for (const [name, trait] of Object.entries(TRAITS)) state[name] = model.get(trait);
      view.setState(state);
    };
    // several traits usually change together: draw once per burst of change events
    let queued = false;
    let active = true;
    const sync = () => {
      if (queued) return;
      queued = true;
      queueMicrotask(() => {
        queued = false;
        if (active) readState();
      });
    };
    const events = Object.values(TRAITS).map((trait) => `change:${trait}`);
    for (const event of events) model.on(event, sync);
    readState();
    return () => {
      active = false;
      for (const event of events) model.off(event, sync);
      view.destroy();
    };
  },
};
