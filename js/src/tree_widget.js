// anywidget adapter for the TreeView drawing: maps the model's traits (tree, selected_node) onto
// the framework-free view in tree.js; clicks go back as custom messages, and the feature panel
// arrives as a custom message with binary image buffers (asked for again on each render).

import { createTreeView } from "./tree.js";

export default {
  render({ model, el }) {
    const view = createTreeView(el, {
      onSelect: (node) => model.send({ type: "select", node }),
      onFeature: (feature) => model.send({ type: "feature", feature }),
    });
    const syncTree = () => view.setTree(model.get("tree"));
    const syncSelected = () => view.setSelected(model.get("selected_node"));
    const onMessage = (message, buffers) => {
      if (message && message.type === "visual") view.setVisual(message, buffers || []);
    };
    model.on("change:tree", syncTree);
    model.on("change:selected_node", syncSelected);
    model.on("msg:custom", onMessage);
    syncTree();
    syncSelected();
    model.send({ type: "visual-request" });

    return () => {
      model.off("change:tree", syncTree);
      model.off("change:selected_node", syncSelected);
      model.off("msg:custom", onMessage);
      view.destroy();
    };
  },
};
