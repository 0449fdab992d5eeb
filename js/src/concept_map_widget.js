// anywidget adapter for the ConceptMapView's drawing: the Python side serialises the map's view
// model into `view_model` and the computation state into `busy`; clicks go back as messages.

import { createConceptMap } from "./concept_map.js";
import { syncTraits } from "./adapter.js";

export default {
  render({ model, el }) {
    const view = createConceptMap(el, {
      onConcept: ({ index, name }) => model.send({ type: "concept", index, name }),
      onShowExplained: () => model.send({ type: "show_explained" }),
    });
    const stopSync = syncTraits(model, {
      view_model: (value) => view.setState(value),
      busy: (value) => view.setBusy(value),
    });
    return () => {
      stopSync();
      view.destroy();
    };
  },
};
