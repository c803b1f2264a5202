// The drawing page: pointer input on the pad, live and stored predictions,
// feedback, undo and clear. Configuration comes from data- attributes on
// #recognizer (no inline script, so a content security policy can forbid them).
import { ApiError, postJson } from "./api.js";
import { CANVAS_SIZE, PEN_WIDTH, drawStrokes, hasInk } from "./ink.js";
import { ResultView, formatPercent } from "./result.js";

// While the pointer moves, ask for a (not stored) preview at most this often.
const PREVIEW_INTERVAL_MS = 250;
// After the pen lifts, wait this long before storing a prediction, so a digit
// of several quick strokes is one submission.
const STORE_DELAY_MS = 400;
// Points closer than this to the previous one add nothing visible.
const MIN_POINT_DISTANCE = 1;

class DrawingPage {
  constructor(root) {
    this.root = root;
    this.predictUrl = root.dataset.predictUrl;
    this.feedbackUrl = root.dataset.feedbackUrl;
    this.csrfToken =
      root.querySelector("input[name=csrfmiddlewaretoken]")?.value || cookie("csrftoken");
    this.canvas = root.querySelector("#pad");
    this.ctx = this.canvas.getContext("2d");
    this.undoButton = root.querySelector("#undo");
    this.clearButton = root.querySelector("#clear");
    this.view = new ResultView(root.querySelector("#result"));
    this.feedback = new FeedbackPanel(root.querySelector("#feedback"), (id, label) => {
      const url = this.feedbackUrl.replace("{id}", String(id));
      return postJson(url, { label }, { csrfToken: this.csrfToken });
    });

    this.strokes = [];
    this.pointerId = null;
    // Every change to the drawing bumps the revision; undo and clear also
    // start a new epoch. Answers are shown in the order they were asked for
    // (sequence), never across epochs (they describe ink no longer there),
    // and as the stored, feedback-taking answer only for the current revision.
    this.revision = 0;
    this.epoch = 0;
    this.sequence = 0;
    this.shownSequence = 0;
    this.previewedRevision = -1;
    this.storedRevision = -1;
    this.previewTimer = null;
    this.storeTimer = null;
    this.previewAbort = null; // set while a preview is on its way
    this.previewWanted = false;
    this.pausedUntil = 0; // throttled: no requests before this time (ms)
    this.renderQueued = false;

    this.canvas.width = CANVAS_SIZE;
    this.canvas.height = CANVAS_SIZE;
    this.render();
    this.listen();
  }

  listen() {
    const pad = this.canvas;
    pad.addEventListener("pointerdown", (event) => this.onPointerDown(event));
    pad.addEventListener("pointermove", (event) => this.onPointerMove(event));
    pad.addEventListener("pointerup", (event) => this.onPointerEnd(event));
    pad.addEventListener("pointercancel", (event) => this.onPointerEnd(event));
    pad.addEventListener("lostpointercapture", (event) => this.onPointerEnd(event));
    this.undoButton.addEventListener("click", () => this.undo());
    this.clearButton.addEventListener("click", () => this.clear());
    this.view.retry.addEventListener("click", () => this.retry());
    document.addEventListener("keydown", (event) => this.onKeyDown(event));
  }

  // --- drawing ---------------------------------------------------------------

  onPointerDown(event) {
    if (this.pointerId !== null || !event.isPrimary || event.button !== 0) return;
    event.preventDefault();
    this.pointerId = event.pointerId;
    this.canvas.setPointerCapture(event.pointerId);
    clearTimeout(this.storeTimer);
    this.strokes.push([this.pointFrom(event)]);
    this.changed();
  }

  onPointerMove(event) {
    if (event.pointerId !== this.pointerId) return;
    event.preventDefault();
    const stroke = this.strokes[this.strokes.length - 1];
    // Coalesced events carry the points the browser merged into this one.
    const events = event.getCoalescedEvents?.() || [];
    let added = false;
    for (const each of events.length ? events : [event]) {
      const point = this.pointFrom(each);
      const [lastX, lastY] = stroke[stroke.length - 1];
      if (Math.hypot(point[0] - lastX, point[1] - lastY) >= MIN_POINT_DISTANCE) {
        stroke.push(point);
        added = true;
      }
    }
    if (added) this.changed();
  }

  onPointerEnd(event) {
    if (event.pointerId !== this.pointerId) return;
    this.pointerId = null;
    if (this.canvas.hasPointerCapture(event.pointerId)) {
      this.canvas.releasePointerCapture(event.pointerId);
    }
    this.scheduleStore();
  }

  /** The event's position in canvas pixels, whatever size CSS displays the canvas at. */
  pointFrom(event) {
    const box = this.canvas.getBoundingClientRect();
    const x = ((event.clientX - box.left) * this.canvas.width) / box.width;
    const y = ((event.clientY - box.top) * this.canvas.height) / box.height;
    return [Math.round(x * 10) / 10, Math.round(y * 10) / 10];
  }

  /** The drawing changed: repaint, hide feedback on the old answer, ask for a
   * preview. `removed`: ink was taken away (undo, clear), so answers on their
   * way describe a drawing that no longer exists. */
  changed({ removed = false } = {}) {
    this.revision += 1;
    if (removed) {
      this.epoch += 1;
      this.cancelRequests();
    }
    this.queueRender();
    this.feedback.hide();
    const empty = !hasInk(this.strokes);
    this.undoButton.disabled = empty;
    this.clearButton.disabled = empty;
    if (empty) {
      this.view.showEmpty();
      return;
    }
    if (this.view.root.dataset.state === "stored") this.view.setState("pending");
    this.schedulePreview();
  }

  queueRender() {
    if (this.renderQueued) return;
    this.renderQueued = true;
    requestAnimationFrame(() => {
      this.renderQueued = false;
      this.render();
    });
  }

  render() {
    drawStrokes(this.ctx, this.strokes, { penWidth: PEN_WIDTH });
  }

  undo() {
    if (!hasInk(this.strokes)) return;
    this.pointerId = null;
    this.strokes.pop();
    this.changed({ removed: true });
    if (hasInk(this.strokes)) this.scheduleStore();
  }

  clear() {
    this.pointerId = null;
    this.strokes = [];
    this.changed({ removed: true });
  }

  onKeyDown(event) {
    if (event.target.closest?.("input, textarea, select, [contenteditable]")) return;
    const modified = event.ctrlKey || event.metaKey;
    const undoChord = modified && !event.shiftKey && event.key.toLowerCase() === "z";
    if (undoChord || (event.key === "Backspace" && !modified && !event.altKey)) {
      event.preventDefault();
      this.undo();
    } else if (event.key === "Escape") {
      event.preventDefault();
      this.clear();
    }
  }

  // --- requests --------------------------------------------------------------

  schedulePreview() {
    if (this.previewTimer !== null) return; // at most one per interval while moving
    this.previewTimer = setTimeout(() => {
      this.previewTimer = null;
      this.sendPreview();
    }, PREVIEW_INTERVAL_MS);
  }

  scheduleStore() {
    clearTimeout(this.storeTimer);
    this.storeTimer = setTimeout(() => this.sendStored(), STORE_DELAY_MS);
  }

  cancelRequests() {
    clearTimeout(this.previewTimer);
    clearTimeout(this.storeTimer);
    this.previewTimer = null;
    this.previewWanted = false;
    this.previewAbort?.abort();
  }

  throttled() {
    return Date.now() < this.pausedUntil;
  }

  async sendPreview() {
    if (!hasInk(this.strokes) || this.throttled()) return;
    // Already asked, or the stored answer covers it.
    if (this.previewedRevision === this.revision || this.storedRevision === this.revision) return;
    if (this.previewAbort) {
      // One preview at a time, so that on a slow connection answers still
      // arrive while the pen moves; the next is asked for when this one is back.
      this.previewWanted = true;
      return;
    }
    this.previewedRevision = this.revision;
    const abort = new AbortController();
    this.previewAbort = abort;
    try {
      await this.request(`${this.predictUrl}?preview=true&include=preprocessed`, {
        stored: false,
        signal: abort.signal,
      });
    } finally {
      if (this.previewAbort === abort) this.previewAbort = null;
    }
    if (this.previewWanted) {
      this.previewWanted = false;
      this.schedulePreview();
    }
  }

  async sendStored({ force = false } = {}) {
    if (!hasInk(this.strokes) || this.pointerId !== null) return;
    if (this.storedRevision === this.revision && !force) return;
    if (this.throttled()) {
      // Ask again once the server allows it.
      this.storeTimer = setTimeout(() => this.sendStored(), this.pausedUntil - Date.now() + 50);
      return;
    }
    this.storedRevision = this.revision;
    // The stored answer supersedes any preview of the same drawing. Stored
    // requests themselves are never aborted: the server may already have
    // saved the submission.
    clearTimeout(this.previewTimer);
    this.previewTimer = null;
    this.previewWanted = false;
    this.previewAbort?.abort();
    await this.request(`${this.predictUrl}?include=preprocessed`, { stored: true });
  }

  retry() {
    this.view.clearStatus();
    this.sendStored({ force: true });
  }

  async request(url, { stored, signal }) {
    const asked = { revision: this.revision, epoch: this.epoch, sequence: ++this.sequence };
    const image = this.canvas.toDataURL("image/png");
    const showable = () => asked.epoch === this.epoch && asked.sequence > this.shownSequence;
    if (stored) this.view.setState("pending");
    try {
      const prediction = await postJson(url, { image }, { csrfToken: this.csrfToken, signal });
      if (!showable()) return;
      this.shownSequence = asked.sequence;
      // Drawn on since it was asked: still worth showing, but feedback would
      // be about ink the visitor has added to since; the next release stores anew.
      const current = stored && asked.revision === this.revision;
      this.view.showPrediction(prediction, { stored: current });
      if (current) this.feedback.show(prediction);
    } catch (error) {
      if (error.name === "AbortError") return;
      if (!(error instanceof ApiError)) throw error;
      if (error.code === "throttled") {
        this.pausedUntil = Date.now() + 1000 * (error.retryAfter ?? 5);
      }
      if (stored && this.storedRevision === asked.revision) this.storedRevision = -1; // ask again
      if (!showable()) return;
      this.shownSequence = asked.sequence;
      this.showError(error);
    }
  }

  showError(error) {
    let message = error.message;
    if (error.code === "throttled") {
      const wait = error.retryAfter ?? 5;
      const seconds = `${wait} second${wait === 1 ? "" : "s"}`;
      message = `${error.message} Wait ${seconds}; your drawing will be sent then.`;
      this.scheduleStore();
    } else if (error.code === "no_active_model") {
      message = `${error.message} An administrator has to activate a model first.`;
    }
    const retry = error.code === "unreachable" || error.code === "server_error";
    this.view.setErrorStatus(error, message, { retry });
  }
}

/** "Right" / "Wrong -> pick the digit" for the latest stored prediction. */
class FeedbackPanel {
  constructor(root, send) {
    this.root = root;
    this.send = send;
    this.right = root.querySelector("#feedback-right");
    this.wrong = root.querySelector("#feedback-wrong");
    this.picker = root.querySelector("#picker");
    this.picks = [...root.querySelectorAll(".pick")];
    this.status = root.querySelector("#feedback-status");
    this.prediction = null;
    this.right.addEventListener("click", () => this.submit(this.prediction.digit, this.right));
    this.wrong.addEventListener("click", () => this.openPicker());
    for (const pick of this.picks) {
      pick.addEventListener("click", () => this.submit(Number(pick.dataset.label), pick));
    }
  }

  show(prediction) {
    this.prediction = prediction;
    this.root.hidden = false;
    this.root.dataset.feedbackLabel = "";
    this.picker.hidden = true;
    this.wrong.setAttribute("aria-expanded", "false");
    this.markChosen(null);
    this.status.textContent = "";
  }

  hide() {
    this.prediction = null;
    this.root.hidden = true;
  }

  /** Show which answer was recorded: "Right", or "Wrong" and the digit picked. */
  markChosen(button) {
    for (const each of [this.right, ...this.picks]) {
      each.setAttribute("aria-pressed", String(each === button));
    }
    this.wrong.classList.toggle("is-chosen", button !== null && button !== this.right);
  }

  openPicker() {
    this.picker.hidden = false;
    this.wrong.setAttribute("aria-expanded", "true");
    this.picks.find((pick) => Number(pick.dataset.label) !== this.prediction.digit)?.focus();
  }

  async submit(label, button) {
    const prediction = this.prediction;
    if (prediction === null) return;
    this.status.dataset.kind = "info";
    this.status.textContent = "Sending…";
    try {
      const answer = await this.send(prediction.id, label);
      if (this.prediction !== prediction) return; // the drawing changed meanwhile
      this.markChosen(button);
      const recorded = answer.feedback_label ?? label;
      this.root.dataset.feedbackLabel = String(recorded);
      this.status.textContent =
        recorded === prediction.digit
          ? `Thank you: recorded that ${recorded} was right. You can change your answer.`
          : `Thank you: recorded that you drew ${recorded}. You can change your answer.`;
    } catch (error) {
      if (!(error instanceof ApiError)) throw error;
      if (this.prediction !== prediction) return;
      this.status.dataset.kind = "error";
      this.status.textContent = `Your answer was not saved: ${error.message}`;
    }
  }
}

function cookie(name) {
  const match = document.cookie.match(new RegExp(`(?:^|; )${name}=([^;]*)`));
  return match ? decodeURIComponent(match[1]) : "";
}

/** Show the model's test accuracy, rendered as a fraction, as a percentage. */
function formatAccuracies() {
  for (const element of document.querySelectorAll(".js-percent")) {
    element.textContent = formatPercent(Number(element.dataset.fraction), 2);
  }
}

formatAccuracies();
const root = document.getElementById("recognizer");
if (root) new DrawingPage(root);
