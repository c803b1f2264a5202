// Pen strokes -> pixels on a canvas. The drawing page and the canvas realism
// benchmark (bench/canvas_realism.py) both draw through this module, so what
// the benchmark measures is what visitors' drawings look like to the server.

// The canvas bitmap is always this size, whatever size CSS displays it at, so
// every drawing the server receives has the same resolution and pen width.
export const CANVAS_SIZE = 280;

// The server crops the ink's bounding box and scales its longer side to 20 px
// in a 28x28 field, as MNIST was made. A digit drawn about 200 px tall is then
// scaled by ~1/10, and MNIST strokes are 2-3 px wide: a pen of about 1/12 of
// the canvas side gives strokes as thick as MNIST's after that scaling.
export const PEN_WIDTH = 24;

export const INK = "#000";
export const BACKGROUND = "#fff";

/** Fill the whole canvas with the background colour. */
export function clearCanvas(ctx, { background = BACKGROUND } = {}) {
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.fillStyle = background;
  ctx.fillRect(0, 0, ctx.canvas.width, ctx.canvas.height);
  ctx.restore();
}

/**
 * Draw one stroke: an array of [x, y] points in canvas pixels.
 *
 * A single point is a dot (a tap). Longer strokes are smoothed by drawing
 * quadratic curves through the midpoints of successive points, with each
 * recorded point as a control point, so quick mouse moves do not show corners.
 */
export function drawStroke(ctx, points, { penWidth = PEN_WIDTH, ink = INK } = {}) {
  if (points.length === 0) return;
  ctx.save();
  ctx.fillStyle = ink;
  ctx.strokeStyle = ink;
  ctx.lineWidth = penWidth;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  const [x0, y0] = points[0];
  if (points.length === 1) {
    ctx.beginPath();
    ctx.arc(x0, y0, penWidth / 2, 0, 2 * Math.PI);
    ctx.fill();
    ctx.restore();
    return;
  }
  ctx.beginPath();
  ctx.moveTo(x0, y0);
  for (let i = 1; i < points.length - 1; i += 1) {
    const [x, y] = points[i];
    const [nx, ny] = points[i + 1];
    ctx.quadraticCurveTo(x, y, (x + nx) / 2, (y + ny) / 2);
  }
  const [xn, yn] = points[points.length - 1];
  ctx.lineTo(xn, yn);
  ctx.stroke();
  ctx.restore();
}

/** Clear the canvas and draw every stroke on it. */
export function drawStrokes(
  ctx,
  strokes,
  { penWidth = PEN_WIDTH, ink = INK, background = BACKGROUND } = {},
) {
  clearCanvas(ctx, { background });
  for (const points of strokes) drawStroke(ctx, points, { penWidth, ink });
}

/** True when at least one stroke has a point, i.e. there is ink to send. */
export function hasInk(strokes) {
  return strokes.some((points) => points.length > 0);
}

/**
 * Paint a 28x28 grid of grey levels 0-255 (MNIST convention: light digit on
 * black) into a canvas of the same size; CSS scales it up, pixelated.
 */
export function drawPixels(ctx, pixels) {
  const height = pixels.length;
  const width = height ? pixels[0].length : 0;
  const image = ctx.createImageData(width, height);
  for (let row = 0; row < height; row += 1) {
    for (let col = 0; col < width; col += 1) {
      const value = pixels[row][col];
      const offset = (row * width + col) * 4;
      image.data[offset] = value;
      image.data[offset + 1] = value;
      image.data[offset + 2] = value;
      image.data[offset + 3] = 255;
    }
  }
  ctx.putImageData(image, 0, 0);
}
