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
