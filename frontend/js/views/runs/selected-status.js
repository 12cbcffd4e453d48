// The status of each selected run, for the bulk actions: the selection spans pages, so the runs not on this page
// are read (a run deleted meanwhile has none).

import { ApiError, getRun } from "../../api.js";
import { TERMINAL } from "../../dom.js";

/** The selected `ids` split into {finished, open}, from the `runs` on this page as shown and the others read. */
export async function selectedByState(ids, runs) {
  const byId = new Map(runs.map((run) => [run.id, run]));
  const statuses = await Promise.all(
    ids.map(async (id) => {
      if (byId.has(id)) return [id, byId.get(id).status];
      try {
        return [id, (await getRun(id)).status];
      } catch (error) {
        return [id, error instanceof ApiError && error.status === 404 ? null : "unknown"]; // deleted already
      }
    }),
  );
  return {
    finished: statuses.filter(([, s]) => TERMINAL.has(s)).map(([id]) => id),
    open: statuses.filter(([, s]) => s && !TERMINAL.has(s)).map(([id]) => id),
  };
}
