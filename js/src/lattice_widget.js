// anywidget adapter for the LatticeView drawing: maps the model's traits (graph, selected_row,
// query) onto the framework-free view in lattice.js; a click goes back as a custom message.

import { createLatticeView } from "./lattice.js";

export default {
  render({ model, el }) {
    const view = createLatticeView(el, {
      onSelect: (row) => model.send({ type: "select", row }),
      onQuery: (query) => {
        model.set("query", query);
        model.save_changes();
      },
    });
    const syncGraph = () => view.setGraph(model.get("graph"));
    const syncSelected = () => view.setSelected(model.get("selected_row"));
    const syncQuery = () => view.setQuery(model.get("query"));
    model.on("change:graph", syncGraph);
    model.on("change:selected_row", syncSelected);
    model.on("change:query", syncQuery);
    syncGraph();
    syncSelected();
    syncQuery();

    return () => {
      model.off("change:graph", syncGraph);
      model.off("change:selected_row", syncSelected);
      model.off("change:query", syncQuery);
      view.destroy();
    };
  },
};
