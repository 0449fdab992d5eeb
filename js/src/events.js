// Event bookkeeping shared by the views: every listener a view adds is remembered, so the
// cleanup that render returns removes them all.

/** A set of DOM listeners: `listen(target, type, handler)` adds one; `removeAll()` drops all. */
export function listenerSet() {
  const entries = [];
  return {
    listen(target, type, handler) {
      target.addEventListener(type, handler);
      entries.push([target, type, handler]);
    },
    removeAll() {
      for (const [target, type, handler] of entries) target.removeEventListener(type, handler);
      entries.length = 0;
    },
    get size() {
      return entries.length;
    },
  };
}

/**
 * Pointer and keyboard wiring of a layer of selectable items (tree or lattice nodes).
 *
 * `itemOf(target)` returns the item element an event target belongs to (or null). A click, or
 * Enter / Space on a focused item, calls `choose(item)`; hovering or focusing an item calls
 * `hover(item)`, and leaving `area` calls `hover(null)`. Listeners go through `listen`
 * (a {@link listenerSet}'s), so the view's cleanup removes them.
 */
export function wireItems(listen, layer, area, itemOf, { choose, hover }) {
  listen(layer, "click", (event) => {
    const item = itemOf(event.target);
    if (item) choose(item);
  });
  listen(layer, "keydown", (event) => {
    const item = itemOf(event.target);
    if (item && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      choose(item);
    }
  });
  wireHover(listen, layer, area, itemOf, hover);
}

/**
 * Hover wiring of a layer of items: hovering or focusing an item (keyboard users get the same
 * details as the pointer's) calls `hover(item)` with the item element `itemOf(target)` (or
 * null), and leaving `area` calls `hover(null)`. Listeners go through `listen`.
 */
export function wireHover(listen, layer, area, itemOf, hover) {
  const showDetails = (event) => hover(itemOf(event.target));
  listen(layer, "mouseover", showDetails);
  listen(layer, "focusin", showDetails);
  listen(area, "mouseleave", () => hover(null));
}
