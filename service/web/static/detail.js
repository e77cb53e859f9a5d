// One alert: what it says, the approval decision, and its delivery, live.

import {ApiError, request} from "./api.js";
import {
  cellsCard, dispatchesCard, failuresCard, latencyCard, operatorsCard, smsCard, targetingCard,
} from "./delivery.js";
import {formatTime, h, replace, stateBadge, statusBadge, throttle} from "./dom.js";
import {drawMap} from "./map.js";
import {EventStream} from "./sse.js";

const REFRESH_MS = 500;
// What a manager may stop in one step (POST /api/v1/alerts/{id}/cancel).
const CANCELLABLE = new Set(["approved", "dispatching", "active"]);
// SMS delivery reports raise no event (there can be millions): while some are
// awaited, the summary is also re-read on this interval.
const RECEIPTS_POLL_MS = 2000;
// An alert on its way (approved, dispatching) is also re-read on this interval:
// its next state shows even if the event announcing it was missed (a stream
// reconnecting).
const MOVING = new Set(["approved", "dispatching"]);
const MOVING_POLL_MS = 3000;
const NOT_ACTUAL = {
  Test: "TEST — not a live warning: test channels and test recipients only",
  Exercise: "EXERCISE — not a live warning: exercise channels and test recipients only",
  System: "SYSTEM message — never sent to the public",
  Draft: "DRAFT — never sent to anyone",
};

function fact(name, value) {
  return h("div", {className: "fact"}, h("dt", {}, name), h("dd", {}, value ?? "—"));
}

export class AlertDetail {
  constructor(root, alertId, {isManager, onProblem, onStatus}) {
    this.root = root;
    this.id = alertId;
    this.isManager = isManager;
    this.onProblem = onProblem;
    this.onStatus = onStatus;
    this.alert = null;
    this.alertAsked = 0; // snapshots of the alert asked for, and the last one shown
    this.alertShown = 0;
    this.events = [];
    this.mapDrawn = null;
    this.refresh = throttle(() => this.loadDelivery(), REFRESH_MS);
    this.build();
  }

  build() {
    this.header = h("div", {className: "card", id: "alert-header"});
    this.actions = h("div", {id: "actions"});
    this.figures = h("div", {className: "grid", id: "figures"});
    this.operators = h("div", {id: "operators"});
    this.failures = h("div", {id: "failures"});
    this.targeting = h("div", {id: "targeting"});
    this.dispatches = h("div", {id: "dispatches"});
    this.log = h("ol", {className: "events", id: "event-log", reversed: true});
    this.audit = h("div", {id: "audit"});
    replace(this.root,
      h("p", {}, h("a", {className: "back", href: "#/"}, "← all alerts")),
      this.header, this.figures, this.operators, this.failures, this.targeting,
      this.dispatches,
      h("div", {className: "card"}, h("h2", {}, "Live events"), this.log),
      this.audit);
  }

  async start() {
    await Promise.all([this.loadAlert(), this.loadDelivery()]);
    this.stream = new EventStream(`/api/v1/alerts/${encodeURIComponent(this.id)}/events`, {
      onEvent: (event) => this.receive(event),
      onStatus: this.onStatus,
      onRefused: (error) => this.onProblem(error),
    }).start();
  }

  stop() {
    this.stopped = true;
    clearTimeout(this.receiptsTimer);
    clearTimeout(this.movingTimer);
    if (this.stream) this.stream.stop();
  }

  receive(event) {
    this.events.unshift(event);
    this.events.length = Math.min(this.events.length, 50);
    const d = event.data || {};
    replace(this.log, this.events.map((e) => h("li", {dataset: {kind: e.kind}},
      h("code", {}, e.kind), " ", (e.data && e.data.operator) || "", " ",
      h("span", {className: "muted"}, formatTime(e.data && e.data.at)),
      e.data && e.data.reason ? h("span", {className: "failure"}, ` ${e.data.reason}`) : null)));
    if (String(event.kind).startsWith("alert.") || d.state) this.loadAlert();
    this.refresh();
  }

  async loadAlert() {
    try {
      await this.fetchAlert(`/api/v1/alerts/${encodeURIComponent(this.id)}`);
    } catch (error) {
      this.onProblem(error);
    }
    if (this.isManager) this.loadAudit();
  }

  // Several reads of the alert can be in flight (each event asks for one, and
  // an approval answers with one); their answers may come back in any order.
  // Only an answer to the latest request is shown, so a late, older snapshot
  // cannot put the page back on a state the alert has left.
  async fetchAlert(path, options) {
    const asked = ++this.alertAsked;
    const alert = await request(path, options);
    if (asked < this.alertShown || this.stopped) return;
    this.alertShown = asked;
    this.show(alert);
  }

  watchMoving(state) {
    clearTimeout(this.movingTimer);
    if (!this.stopped && MOVING.has(state)) {
      this.movingTimer = setTimeout(() => this.loadAlert(), MOVING_POLL_MS);
    }
  }

  async loadDelivery() {
    const base = `/api/v1/alerts/${encodeURIComponent(this.id)}`;
    try {
      const [summary, targeting] = await Promise.all([
        request(`${base}/delivery`), request(`${base}/targeting?limit=1`),
      ]);
      if (this.alert && summary.state !== this.alert.state) this.loadAlert();
      replace(this.figures, cellsCard(summary), smsCard(summary.sms),
        latencyCard(summary.latency_ms));
      replace(this.operators, operatorsCard(summary));
      replace(this.failures, failuresCard(summary));
      replace(this.dispatches, dispatchesCard(summary));
      await this.showTargeting(base, targeting);
      this.awaitReceipts(summary.sms);
    } catch (error) {
      this.onProblem(error);
    }
  }

  awaitReceipts(sms) {
    clearTimeout(this.receiptsTimer);
    if (!this.stopped && sms && (sms.submitted > 0 || sms.pending > 0)) {
      this.receiptsTimer = setTimeout(this.refresh, RECEIPTS_POLL_MS);
    }
  }

  async showTargeting(base, targeting) {
    const version = (targeting.operators || []).map((t) => `${t.operator_id}:${t.computed_at}`).join();
    if (version && version !== this.mapVersion) {
      this.mapVersion = version;
      this.map = drawMap(await request(`${base}/targeting.geojson`));
    }
    replace(this.targeting, targetingCard(targeting, this.map));
  }

  show(alert) {
    const stateChanged = !this.alert || this.alert.state !== alert.state;
    this.alert = alert;
    this.watchMoving(alert.state);
    const infos = (alert.summary && alert.summary.infos) || [];
    replace(this.header,
      NOT_ACTUAL[alert.status] ? h("div", {className: "test-banner"}, NOT_ACTUAL[alert.status]) : null,
      infos.length === 0 ? h("h1", {className: "headline"}, alert.identifier) : null,
      infos.map((info) => h("div", {className: "info", lang: info.language || ""},
        h("h1", {className: "headline"}, info.headline || info.event || alert.identifier),
        h("p", {className: "muted"},
          [info.language, info.event, info.severity, info.urgency, info.certainty]
            .filter(Boolean).join(" · ")),
        (info.areas || []).length ? h("p", {}, "Area: ", info.areas.join("; ")) : null)),
      h("dl", {className: "facts"},
        fact("Status", statusBadge(alert.status)),
        fact("State", h("span", {id: "alert-state"}, stateBadge(alert.state))),
        fact("Reason", alert.state_reason),
        fact("Message type", alert.msgType), fact("Scope", alert.scope),
        fact("Dispatch class", alert.dispatch_class),
        fact("Sender", alert.sender), fact("Identifier", alert.identifier),
        fact("Sent", alert.sent), fact("Received", formatTime(alert.received_at)),
        fact("Expires", formatTime(alert.expires_at)),
        fact("Decided by", alert.decided_by), fact("Signature", alert.signature)),
      (alert.warnings || []).length
        ? h("ul", {className: "warnings"}, alert.warnings.map((w) => h("li", {},
          h("code", {}, w.path), " ", w.message)))
        : null,
      this.actions);
    if (stateChanged) this.showActions();
  }

  showActions() {
    if (this.isManager && CANCELLABLE.has(this.alert.state) && this.alert.msgType !== "Cancel") {
      this.showCancel();
      return;
    }
    if (this.alert.state !== "pending-approval" || !this.isManager) {
      replace(this.actions);
      return;
    }
    const reason = h("input", {id: "reject-reason", placeholder: "reason for rejecting",
      maxlength: "2000"});
    const note = h("span", {className: "failure", id: "decision-problem"});
    const decide = async (verb, body) => {
      replace(note);
      try {
        const path = `/api/v1/alerts/${encodeURIComponent(this.id)}/${verb}`;
        await this.fetchAlert(path, {method: "POST", body});
        this.refresh();
      } catch (error) {
        replace(note, error instanceof ApiError ? `${error.title}: ${error.detail}` : String(error));
        this.onProblem(error);
      }
    };
    replace(this.actions, h("div", {className: "actions"},
      h("strong", {}, "Awaiting approval"),
      h("button", {id: "approve", type: "button", onclick: () => decide("approve", {})}, "Approve"),
      reason,
      h("button", {id: "reject", type: "button", className: "danger",
        onclick: () => decide("reject", {reason: reason.value.trim() || "rejected"})}, "Reject"),
      note));
  }

  // One step to stop a warning everywhere (a confirm first: it cannot be undone).
  showCancel() {
    const reason = h("input", {id: "cancel-reason", placeholder: "why the warning is stopped",
      maxlength: "2000"});
    const note = h("span", {className: "failure", id: "cancel-problem"});
    const confirm = h("button", {id: "cancel-confirm", type: "button", className: "danger", hidden: true,
      onclick: async () => {
        replace(note);
        try {
          const path = `/api/v1/alerts/${encodeURIComponent(this.id)}/cancel`;
          const cancel = await request(path, {method: "POST",
            body: {reason: reason.value.trim() || "cancelled by the emergency manager"}});
          replace(this.actions, h("div", {className: "actions"},
            h("strong", {id: "cancel-sent"}, `Cancel sent (${cancel.state})`)));
          this.refresh();
        } catch (error) {
          replace(note, error instanceof ApiError ? `${error.title}: ${error.detail}` : String(error));
          this.onProblem(error);
        }
      }}, "Confirm: stop it on every channel");
    const ask = h("button", {id: "cancel", type: "button", className: "danger",
      onclick: () => { confirm.hidden = false; ask.hidden = true; }}, "Cancel this warning");
    replace(this.actions, h("div", {className: "actions"},
      h("strong", {}, "Live"), reason, ask, confirm, note));
  }

  async loadAudit() {
    try {
      const page = await request(`/api/v1/audit?alert_id=${encodeURIComponent(this.id)}&limit=200`);
      replace(this.audit, h("div", {className: "card", id: "audit-card"},
        h("h2", {}, "Audit: who did what"),
        h("table", {}, h("tbody", {}, page.items.map((e) => h("tr", {},
          h("td", {}, formatTime(e.at)), h("td", {}, e.actor), h("td", {}, h("code", {}, e.action)),
          h("td", {className: "muted detail"}, JSON.stringify(e.detail))))))));
    } catch (error) {
      replace(this.audit);
    }
  }
}
