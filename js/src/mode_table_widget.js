// anywidget adapter for the Explorer's failure-mode table: traits in, row clicks out (a custom
// message), header clicks set the synced sort traits.

import { createModeTableView } from "./mode_table.js";
import { readTraits, saveTraits, snakeTraits, watchTraits } from "./adapter.js";

// view state name -> model trait (the name in snake_case)
const TRAITS = snakeTraits(["rows", "sortBy", "ascending", "selectedId", "className", "caption", "busy", "agreement"]);

export default {
  render({ model, el }) {
    const view = createModeTableView(el, {
      onSelect: (id) => model.send({ type: "select", id }),
      onSort: (sortBy, ascending) => saveTraits(model, { sort_by: sortBy, ascending }),
    });
    const readState = () => view.setState(readTraits(model, TRAITS));
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
    const stopWatching = watchTraits(model, Object.values(TRAITS), sync);
    readState();
    return () => {
      active = false;
      stopWatching();
      view.destroy();
    };
  },
};
