// anywidget adapter for the ConceptMapView's drawing: the Python side serialises the map's view
// model into `view_model` and the computation state into `busy`; clicks go back as messages.

import { createConceptMap } from "./concept_map.js";

export default {
  render({ model, el }) {
    const view = createConceptMap(el, {
      onConcept: ({ index, name }) => model.send({ type: "concept", index, name }),
      onShowExplained: () => model.send({ type: "show_explained" }),
    });
    const syncModel = () => view.setState(model.get("view_model"));
    const syncBusy = () => view.setBusy(model.get("busy"));
    model.on("change:view_model", syncModel);
    model.on("change:busy", syncBusy);
    syncModel();
    syncBusy();
    return () => {
      model.off("change:view_model", syncModel);
      model.off("change:busy", syncBusy);
      view.destroy();
    };
  },
};
