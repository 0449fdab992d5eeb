// What the anywidget adapters (*_widget.js) share: model traits mirrored onto a view's setters,
// custom messages routed by their type, trait updates saved back. Each function that listens
// returns a function that stops listening, for the cleanup that render returns.

/** Call `listener` on every change of any of `traits` (names); returns the remover. */
export function watchTraits(model, traits, listener) {
  const events = traits.map((trait) => `change:${trait}`);
  for (const event of events) model.on(event, listener);
  return () => {
    for (const event of events) model.off(event, listener);
  };
}

/**
 * Mirror traits onto a view: `handlers[trait](value)` now (in the order given) and on every
 * change of that trait. Returns the remover.
 */
export function syncTraits(model, handlers) {
  const syncs = Object.entries(handlers).map(([trait, apply]) => [trait, () => apply(model.get(trait))]);
  const removers = syncs.map(([trait, sync]) => watchTraits(model, [trait], sync));
  for (const [, sync] of syncs) sync();
  return () => {
    for (const remove of removers) remove();
  };
}

/**
 * The map view state name -> model trait for `names` in camelCase: each trait is the name in
 * snake_case (`pageSize` -> `page_size`), unless `others` maps the name to another trait.
 */
export function snakeTraits(names, others = {}) {
  const traits = {};
  for (const name of names) traits[name] = name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
  return { ...traits, ...others };
}

/** The view state `{name: model.get(trait)}` for a map `traits` of state name -> trait. */
export function readTraits(model, traits) {
  const state = {};
  for (const [name, trait] of Object.entries(traits)) state[name] = model.get(trait);
  return state;
}

/** Set `values` (trait -> value) on the model and send them to the kernel at once. */
export function saveTraits(model, values) {
  for (const [trait, value] of Object.entries(values)) model.set(trait, value);
  model.save_changes();
}

/**
 * Route the kernel's custom messages: `handlers[message.type](message, buffers)`; messages of
 * other types are ignored. Returns the remover.
 */
export function onMessages(model, handlers) {
  const listener = (message, buffers) => {
    const type = message ? message.type : undefined;
    if (Object.prototype.hasOwnProperty.call(handlers, type)) handlers[type](message, buffers);
  };
  model.on("msg:custom", listener);
  return () => model.off("msg:custom", listener);
}
