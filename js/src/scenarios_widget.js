// anywidget adapter for the ScenarioView rows: maps the model's traits (view_model, selected)
// onto the framework-free view in scenarios.js; clicks, labels and strip requests go back as
// custom messages, and the strips come in as custom messages with PNG buffers.

import { createScenarioView } from "./scenarios.js";
import { onMessages, syncTraits } from "./adapter.js";

export default {
  render({ model, el }) {
    const view = createScenarioView(el, {
      onSelect: (id) => model.send({ type: "select", id }),
      onLabel: (label) => model.send({ type: "label", ...label }),
      onRequestStrips: ({ ids, version, requestId }) =>
        model.send({ type: "strips", ids, version, request_id: requestId }),
    });
    const stopMessages = onMessages(model, {
      strips: (message, buffers) => view.receiveStrips(message, buffers),
      label_refused: (message) => view.labelRefused(message),
    });
    const stopSync = syncTraits(model, {
      view_model: (value) => view.setData(value),
      selected: (value) => view.setSelected(value),
    });

    return () => {
      stopSync();
      stopMessages();
      view.destroy();
    };
  },
};
