// The dashboard: sign in with an API key, the alert list, one alert's delivery, live.

import {ApiError, credentials, request} from "./api.js";
import {AlertDetail} from "./detail.js";
import {h, replace, throttle} from "./dom.js";
import {AlertList} from "./list.js";
import {EventStream} from "./sse.js";

const $ = (id) => document.getElementById(id);
const state = {isManager: false, list: null, listStream: null, detail: null, pollTimer: null};

function showProblem(error) {
  const box = $("problem");
  if (!error) {
    box.hidden = true;
    replace(box);
    return;
  }
  const title = error instanceof ApiError ? error.title : "Something went wrong";
  const detail = error instanceof ApiError ? error.detail : String(error && error.message || error);
  replace(box, h("strong", {className: "problem-title"}, title),
    h("span", {className: "problem-detail"}, detail));
  box.dataset.status = error instanceof ApiError ? String(error.status) : "";
  box.hidden = false;
  if (error instanceof ApiError && error.status === 401) {
    credentials.clear(); // a wrong or revoked key: ask again
    showSignIn();
  }
}

function setLive(status) {
  const badge = $("live");
  badge.hidden = false;
  badge.textContent = status === "live" ? "live" : status;
  badge.classList.toggle("down", status !== "live");
}

function showSignIn() {
  stopLive();
  $("sign-in").hidden = false;
  $("list").hidden = true;
  $("detail").hidden = true;
  $("sign-out").hidden = true;
  $("who").textContent = "";
}

function stopLive() {
  if (state.listStream) state.listStream.stop();
  if (state.detail) state.detail.stop();
  clearInterval(state.pollTimer);
  state.listStream = state.detail = null;
  $("live").hidden = true;
}

// Managers may read the audit trail; agencies may not: that tells the role apart.
async function detectRole() {
  try {
    await request("/api/v1/audit?limit=1");
    return true;
  } catch (error) {
    if (error instanceof ApiError && error.status === 403) return false;
    throw error;
  }
}

async function signIn() {
  showProblem(null);
  try {
    state.isManager = await detectRole();
  } catch (error) {
    showProblem(error);
    return;
  }
  $("sign-in").hidden = true;
  $("sign-out").hidden = false;
  $("who").textContent = `${credentials.label()} · ${state.isManager ? "manager" : "agency"}`;
  route();
}

function showList() {
  $("detail").hidden = true;
  $("list").hidden = false;
  if (!state.list) {
    state.list = new AlertList($("list"), {
      onOpen: (id) => { location.hash = `#/alerts/${encodeURIComponent(id)}`; },
      onProblem: showProblem,
    });
  }
  state.list.load({refresh: true});
  const reload = throttle(() => state.list.load({refresh: true}), 1000);
  if (state.isManager) {
    state.listStream = new EventStream("/api/v1/events", {
      onEvent: reload, onStatus: setLive, onRefused: showProblem,
    }).start();
  } else {
    state.pollTimer = setInterval(reload, 10000); // /api/v1/events is for managers
  }
}

function showDetail(alertId) {
  $("list").hidden = true;
  $("detail").hidden = false;
  state.detail = new AlertDetail($("detail"), alertId, {
    isManager: state.isManager, onProblem: showProblem, onStatus: setLive,
  });
  state.detail.start();
}

function route() {
  if (!credentials.get()) {
    showSignIn();
    return;
  }
  stopLive();
  const match = /^#\/alerts\/([^/]+)$/.exec(location.hash);
  if (match) showDetail(decodeURIComponent(match[1]));
  else showList();
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  credentials.set($("api-key").value);
  $("api-key").value = "";
  signIn();
});
$("sign-out").addEventListener("click", () => {
  credentials.clear();
  state.list = null;
  showProblem(null);
  showSignIn();
});
window.addEventListener("hashchange", () => { showProblem(null); route(); });

if (credentials.get()) signIn();
else showSignIn();
