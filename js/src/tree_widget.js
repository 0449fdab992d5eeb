// anywidget adapter for the TreeView drawing: maps the model's traits (tree, selected_node) onto
// the framework-free view in tree.js; clicks go back as custom messages, and the feature panel
// arrives as a custom message with binary image buffers (asked for again on each render).

import { createTreeView } from "./tree.js";
import { onMessages, syncTraits } from "./adapter.js";

export default {
  render({ model, el }) {
    const view = createTreeView(el, {
      onSelect: (node) => model.send({ type: "select", node }),
      onFeature: (feature) => model.send({ type: "feature", feature }),
    });
    const stopMessages = onMessages(model, {
      visual: (message, buffers) => view.setVisual(message, buffers || []),
    });
    const stopSync = syncTraits(model, {
      tree: (value) => view.setTree(value),
      selected_node: (value) => view.setSelected(value),
    });
    model.send({ type: "visual-request" });

    return () => {
      stopSync();
      stopMessages();
      view.destroy();
    };
  },
};
