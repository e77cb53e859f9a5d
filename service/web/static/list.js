// The alert list: newest first, cursor-paged, filtered, refreshed on live events.

import {request} from "./api.js";
import {formatTime, h, replace, stateBadge, statusBadge} from "./dom.js";

const PAGE = 50;

export function headlineOf(alert) {
  const infos = (alert.summary && alert.summary.infos) || [];
  for (const info of infos) {
    if (info.headline) return info.headline;
  }
  for (const info of infos) {
    if (info.event) return info.event;
  }
  return alert.identifier;
}

export class AlertList {
  constructor(root, {onOpen, onProblem}) {
    this.root = root;
    this.rows = root.querySelector("#alert-rows");
    this.empty = root.querySelector("#list-empty");
    this.more = root.querySelector("#more");
    this.filters = root.querySelector("#filters");
    this.onOpen = onOpen;
    this.onProblem = onProblem;
    this.items = [];
    this.cursor = null;
    this.more.addEventListener("click", () => this.load({append: true}));
    this.filters.addEventListener("change", () => this.load());
  }

  query(limit, cursor) {
    const params = new URLSearchParams({limit: String(limit)});
    for (const [name, value] of new FormData(this.filters)) {
      if (value) params.set(name, String(value));
    }
    if (cursor) params.set("cursor", cursor);
    return `/api/v1/alerts?${params}`;
  }

  // Fresh first page, or the next one; a refresh keeps as many rows as shown.
  async load({append = false, refresh = false} = {}) {
    const limit = refresh ? Math.min(500, Math.max(PAGE, this.items.length)) : PAGE;
    try {
      const page = await request(this.query(limit, append ? this.cursor : null));
      this.items = append ? this.items.concat(page.items) : page.items;
      this.cursor = page.next_cursor;
      this.render();
    } catch (error) {
      this.onProblem(error);
    }
  }

  render() {
    replace(this.rows, this.items.map((alert) => this.row(alert)));
    this.empty.hidden = this.items.length > 0;
    this.more.hidden = !this.cursor;
  }

  row(alert) {
    const actual = alert.status === "Actual";
    return h(
      "tr",
      {
        className: actual ? "" : "not-actual",
        dataset: {id: alert.id, state: alert.state},
        tabindex: "0",
        onclick: () => this.onOpen(alert.id),
        onkeydown: (event) => { if (event.key === "Enter") this.onOpen(alert.id); },
      },
      h("td", {}, statusBadge(alert.status)),
      h("td", {className: "headline-cell"}, headlineOf(alert)),
      h("td", {}, alert.sender),
      h("td", {}, alert.msgType),
      h("td", {className: "state"}, stateBadge(alert.state)),
      h("td", {}, formatTime(alert.received_at)),
    );
  }
}
