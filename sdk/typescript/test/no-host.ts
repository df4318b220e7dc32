// The host's imports, for unit tests run under Node: the SDK's helpers are tested alone, and
// a test that reached the host would fail here, loudly. What crosses into the host is proven
// by the adapters' fixtures and scenarios.
const none = (name: string) => () => {
  throw new Error(`${name}: no host in unit tests`);
};
export const send = none('http.send');
export const all = none('config.all');
export const get = none('get');
export const secret = none('config.secret');
export const sha256 = none('digest.sha256');
export const report = none('items.report');
export const enqueueWithPriority = none('jobs.enqueue');
export const write = none('log.write');
export const begin = none('steps.begin');
export const end = none('steps.end');
export const set = none('storage.set');
export const setExpiring = none('storage.setExpiring');
const remove = none('storage.delete');
export { remove as delete };
export const listKeys = none('storage.listKeys');
export const compareAndSwap = none('storage.compareAndSwap');
export const invalidate = none('tokens.invalidate');
