// anywidget adapter for the ScenarioView rows: maps the model's traits (view_model, selected)
// onto the framework-free view in scenarios.js; clicks, labels and strip requests go back as
// custom messages, and the strips come in as custom messages with PNG buffers.

import { createScenarioView } from "./scenarios.js";

export default {
  render({ model, el }) {
    const view = createScenarioView(el, {
      onSelect: (id) => model.send({ type: "select", id }),
      onLabel: (label) => model.send({ type: "label", ...label }),
      onRequestStrips: ({ ids, version, requestId }) =>
        model.send({ type: "strips", ids, version, request_id: requestId }),
    });
    const syncData = () => view.setData(model.get("view_model"));
    const syncSelected = () => view.setSelected(model.get("selected"));
    const onMessage = (message, buffers) => {
      if (message && message.type === "strips") view.receiveStrips(message, buffers);
      else if (message && message.type === "label_refused") view.labelRefused(message);
    };
    model.on("change:view_model", syncData);
    model.on("change:selected", syncSelected);
    model.on("msg:custom", onMessage);
    syncData();
    syncSelected();

    return () => {
      model.off("change:view_model", syncData);
      model.off("change:selected", syncSelected);
      model.off("msg:custom", onMessage);
      view.destroy();
    };
  },
};
