// anywidget adapter for the LatticeView drawing: maps the model's traits (graph, selected_row,
// query) onto the framework-free view in lattice.js; a click goes back as a custom message.

import { createLatticeView } from "./lattice.js";
import { saveTraits, syncTraits } from "./adapter.js";

export default {
  render({ model, el }) {
    const view = createLatticeView(el, {
      onSelect: (row) => model.send({ type: "select", row }),
      onQuery: (query) => saveTraits(model, { query }),
    });
    const stopSync = syncTraits(model, {
      graph: (value) => view.setGraph(value),
      selected_row: (value) => view.setSelected(value),
      query: (value) => view.setQuery(value),
    });
    return () => {
      stopSync();
      view.destroy();
    };
  },
};
