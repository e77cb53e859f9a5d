// Server-Sent Events over fetch(): EventSource cannot send an Authorization
// header, so the text/event-stream framing is parsed here. The stream resumes
// after the last event id it saw (Last-Event-ID and ?after=) when it drops.

import {authHeaders, problemOf} from "./api.js";

// Feeds text chunks, calls onEvent({id, event, data}) per complete event.
export class EventParser {
  constructor(onEvent, onRetry = () => {}) {
    this.onEvent = onEvent;
    this.onRetry = onRetry;
    this.buffer = "";
    this.reset();
  }

  reset() {
    this.data = [];
    this.event = "";
    this.id = null;
  }

  feed(text) {
    this.buffer += text;
    let match;
    // A lone "\r" at the end may be the first half of "\r\n": wait for more.
    while ((match = /\r\n|\n|\r(?!$)/.exec(this.buffer)) !== null) {
      const line = this.buffer.slice(0, match.index);
      this.buffer = this.buffer.slice(match.index + match[0].length);
      this.line(line);
    }
  }

  line(line) {
    if (line === "") {
      this.dispatch();
      return;
    }
    if (line.startsWith(":")) return; // comment (keep-alive)
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.data.push(value);
    else if (field === "event") this.event = value;
    else if (field === "id" && !value.includes("\0")) this.id = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.onRetry(Number(value));
  }

  dispatch() {
    const id = this.id;
    const hasData = this.data.length > 0;
    const event = {id, event: this.event || "message", data: this.data.join("\n")};
    this.data = [];
    this.event = "";
    if (hasData || id !== null) this.onEvent(event, hasData);
  }
}

const MAX_BACKOFF_MS = 15000;

// new EventStream("/api/v1/events", {onEvent, onStatus}).start(); .stop()
export class EventStream {
  constructor(path, {onEvent, onStatus = () => {}, onRefused = () => {}}) {
    this.path = path;
    this.onEvent = onEvent;
    this.onStatus = onStatus;
    this.onRefused = onRefused;
    this.lastEventId = 0;
    this.retryMs = 1000;
    this.failures = 0;
    this.controller = null;
    this.stopped = true;
  }

  start() {
    this.stopped = false;
    this.loop();
    return this;
  }

  stop() {
    this.stopped = true;
    if (this.controller) this.controller.abort();
  }

  url() {
    const separator = this.path.includes("?") ? "&" : "?";
    return `${this.path}${separator}after=${this.lastEventId}`;
  }

  async loop() {
    while (!this.stopped) {
      try {
        await this.read();
        this.failures = 0; // a clean end: the server closed, come back at once
      } catch (error) {
        if (this.stopped || error.name === "AbortError") break;
        if (error.status && [401, 403, 404].includes(error.status)) {
          this.onStatus("refused");
          this.onRefused(error);
          return;
        }
        this.failures += 1;
      }
      if (this.stopped) break;
      this.onStatus("reconnecting");
      const backoff = Math.min(MAX_BACKOFF_MS, this.retryMs * 2 ** Math.min(this.failures, 4));
      await new Promise((resolve) => setTimeout(resolve, backoff));
    }
  }

  async read() {
    this.controller = new AbortController();
    const headers = {Accept: "text/event-stream", ...authHeaders()};
    if (this.lastEventId) headers["Last-Event-ID"] = String(this.lastEventId);
    const response = await fetch(this.url(), {
      headers, signal: this.controller.signal, cache: "no-store", credentials: "omit",
    });
    if (!response.ok) throw await problemOf(response);
    this.onStatus("live");
    const parser = new EventParser(
      (event, hasData) => this.receive(event, hasData),
      (ms) => { this.retryMs = ms; },
    );
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const {value, done} = await reader.read();
      if (done) return;
      parser.feed(value);
    }
  }

  receive(event, hasData) {
    const id = Number(event.id);
    if (Number.isInteger(id) && id > 0) this.lastEventId = id;
    if (!hasData) return;
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      data = {raw: event.data};
    }
    this.onEvent({id, kind: event.event, data});
  }
}
