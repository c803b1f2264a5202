// The result panel: the digit, the probability bars, the 28x28 image the
// model saw and the status line. Only writes to the DOM; no requests here.
import { drawPixels } from "./ink.js";

export function formatPercent(fraction, digits = 1) {
  return `${(fraction * 100).toFixed(digits)} %`;
}

export class ResultView {
  constructor(root) {
    this.root = root;
    this.digit = root.querySelector("#digit");
    this.confidence = root.querySelector("#confidence");
    this.answeredBy = root.querySelector("#answered-by");
    this.bars = [...root.querySelectorAll(".bar")];
    this.seen = root.querySelector("#seen").getContext("2d");
    this.status = root.querySelector("#status");
    this.announcer = root.querySelector("#announce");
    this.retry = root.querySelector("#retry");
    this.showEmpty();
  }

  /** state: "empty" | "pending" | "preview" | "stored" | "error" (a hook for tests and CSS). */
  setState(state, predictionId = "") {
    this.root.dataset.state = state;
    this.root.dataset.predictionId = predictionId;
  }

  showEmpty() {
    this.setState("empty");
    this.digit.textContent = "?";
    this.confidence.textContent = "Draw a digit to see what the model reads.";
    this.answeredBy.textContent = "";
    for (const bar of this.bars) this.setBar(bar, null, false);
    this.seen.fillStyle = "#000";
    this.seen.fillRect(0, 0, this.seen.canvas.width, this.seen.canvas.height);
    this.clearStatus();
  }

  /** A prediction from the API; `stored` when it is a saved submission with an id. */
  showPrediction(prediction, { stored }) {
    const { digit, confidence, probabilities } = prediction;
    this.setState(stored ? "stored" : "preview", stored ? String(prediction.id) : "");
    this.root.dataset.digit = String(digit);
    this.digit.textContent = String(digit);
    this.confidence.textContent = `${formatPercent(confidence)} sure`;
    this.answeredBy.textContent = `model version ${prediction.model_version}`;
    probabilities.forEach((probability, index) => {
      this.setBar(this.bars[index], probability, index === digit);
    });
    if (Array.isArray(prediction.preprocessed)) drawPixels(this.seen, prediction.preprocessed);
    this.clearStatus();
    if (stored) {
      const sure = formatPercent(confidence, 0);
      this.announcer.textContent = `The model reads ${digit}, ${sure} sure.`;
    }
  }

  setBar(bar, probability, top) {
    const fill = bar.querySelector(".bar-fill");
    const value = bar.querySelector(".bar-value");
    const width = probability === null ? 0 : probability * 100;
    // CSSOM, not a style attribute: allowed by a content security policy.
    fill.style.setProperty("width", `${width.toFixed(1)}%`);
    value.textContent = probability === null ? "–" : formatPercent(probability);
    bar.classList.toggle("bar--top", top);
  }

  /** kind: "info" (a gentle hint) or "error". */
  setStatus(message, kind = "info", { retry = false } = {}) {
    this.status.textContent = message;
    this.status.dataset.kind = kind;
    this.status.dataset.code = "";
    this.retry.hidden = !retry;
  }

  setErrorStatus(error, message, { retry }) {
    this.setStatus(message, error.code === "no_ink" ? "info" : "error", { retry });
    this.status.dataset.code = error.code;
    if (error.code !== "no_ink") this.setState("error");
  }

  clearStatus() {
    this.status.textContent = "";
    this.status.dataset.kind = "";
    this.status.dataset.code = "";
    this.retry.hidden = true;
  }
}
