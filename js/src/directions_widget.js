// anywidget adapter for the DirectionsView's caption panel: the Python side serialises one
// class's view model into the `view_model` trait; clicks come back as custom messages.

import { createDirectionsView } from "./directions.js";
import { syncTraits } from "./adapter.js";

export default {
  render({ model, el }) {
    const view = createDirectionsView(el, {
      onCaption: ({ side, rank, caption }) => model.send({ type: "caption", side, rank, caption }),
      onShowTail: () => model.send({ type: "tail" }),
    });
    const stopSync = syncTraits(model, { view_model: (value) => view.setState(value) });
    return () => {
      stopSync();
      view.destroy();
    };
  },
};
