// Filter preview before submit, in the browser, on a reduced copy of the chosen file (at most
// the canvas size): the same steps in the same order with Pillow's own formulas — ITU-R 601
// grey, Gaussian blur by standard deviation, unsharp mask with threshold 3, Pillow's 3x3 kernels
// (rows applied bottom-up, border pixels kept), counter-clockwise rotation. Where it differs:
// the 3x3 filters and sharpen act on the reduced pixels, so their lines look thicker than on the
// full-size result; rotated corners are black even for images with transparency; the edge
// filters keep the alpha channel (Pillow filters it too).
"use strict";

(function () {
  const form = document.getElementById("job-form");
  const input = document.getElementById("file");
  const view = document.getElementById("preview");
  if (!form || !input || !view) return;
  const box = document.getElementById("preview-box");
  const sizeText = document.getElementById("preview-size");
  const noteText = document.getElementById("preview-note");
  const limit = view.width;
  const KERNELS = {
    contour: { scale: 1, offset: 255, k: [-1, -1, -1, -1, 8, -1, -1, -1, -1] },
    edge_enhance: { scale: 2, offset: 0, k: [-1, -1, -1, -1, 10, -1, -1, -1, -1] },
    emboss: { scale: 1, offset: 128, k: [-1, 0, 0, 0, 1, 0, 0, 0, 0] },
  };
  let source = null;

  function canvas(width, height) {
    const made = document.createElement("canvas");
    made.width = Math.max(1, Math.round(width));
    made.height = Math.max(1, Math.round(height));
    return made;
  }

  function pixels(picture) {
    return picture.getContext("2d").getImageData(0, 0, picture.width, picture.height);
  }

  function grayscale(picture) {
    const image = pixels(picture);
    const d = image.data;
    for (let i = 0; i < d.length; i += 4) {
      const grey = (d[i] * 19595 + d[i + 1] * 38470 + d[i + 2] * 7471 + 0x8000) >> 16;
      d[i] = d[i + 1] = d[i + 2] = grey;
    }
    picture.getContext("2d").putImageData(image, 0, 0);
    return picture;
  }

  // A Gaussian blur with the edge pixels extended outwards, as Pillow does (a canvas filter
  // alone would fade the borders into transparency).
  function blurred(picture, sigma) {
    if (sigma <= 0) return picture;
    const pad = Math.ceil(sigma * 3);
    const { width: w, height: h } = picture;
    const padded = canvas(w + 2 * pad, h + 2 * pad);
    const p = padded.getContext("2d");
    p.drawImage(picture, pad, pad);
    p.drawImage(picture, 0, 0, 1, h, 0, pad, pad, h);
    p.drawImage(picture, w - 1, 0, 1, h, pad + w, pad, pad, h);
    p.drawImage(padded, 0, pad, w + 2 * pad, 1, 0, 0, w + 2 * pad, pad);
    p.drawImage(padded, 0, pad + h - 1, w + 2 * pad, 1, 0, pad + h, w + 2 * pad, pad);
    const out = canvas(w, h);
    const o = out.getContext("2d");
    o.filter = `blur(${sigma}px)`;
    o.drawImage(padded, -pad, -pad);
    return out;
  }

  function sharpen(picture, sigma, percent) {
    const soft = pixels(blurred(picture, sigma)).data;
    const image = pixels(picture);
    const d = image.data;
    for (let i = 0; i < d.length; i++) {
      if (i % 4 === 3) continue;
      const diff = d[i] - soft[i];
      if (Math.abs(diff) >= 3) d[i] = Math.max(0, Math.min(255, d[i] + (diff * percent) / 100));
    }
    picture.getContext("2d").putImageData(image, 0, 0);
    return picture;
  }

  function convolve(picture, { scale, offset, k }) {
    const { width: w, height: h } = picture;
    const input = pixels(picture);
    const out = new ImageData(new Uint8ClampedArray(input.data), w, h);
    const s = input.data;
    for (let y = 1; y < h - 1; y++) {
      for (let x = 1; x < w - 1; x++) {
        for (let c = 0; c < 3; c++) {
          let sum = 0;
          for (let j = 0; j < 3; j++) {
            for (let i = 0; i < 3; i++) {
              sum += k[3 * j + i] * s[((y + 1 - j) * w + (x + i - 1)) * 4 + c];
            }
          }
          out.data[(y * w + x) * 4 + c] = sum / scale + offset;
        }
      }
    }
    picture.getContext("2d").putImageData(out, 0, 0);
    return picture;
  }

  // The canvas Image.rotate(angle, expand=True) makes, computed as Pillow computes it.
  function rotatedSize(width, height, angle) {
    angle = ((angle % 360) + 360) % 360;
    if (angle === 0 || angle === 180) return [width, height];
    if (angle === 90 || angle === 270) return [height, width];
    const r = (-angle * Math.PI) / 180;
    const cos = Math.cos(r);
    const sin = Math.sin(r);
    const xs = [];
    const ys = [];
    for (const [x, y] of [[0, 0], [width, 0], [width, height], [0, height]]) {
      xs.push(cos * (x - width / 2) + sin * (y - height / 2));
      ys.push(-sin * (x - width / 2) + cos * (y - height / 2));
    }
    return [
      Math.ceil(Math.max(...xs) + width / 2) - Math.floor(Math.min(...xs) + width / 2),
      Math.ceil(Math.max(...ys) + height / 2) - Math.floor(Math.min(...ys) + height / 2),
    ];
  }

  function rotate(picture, angle, expand) {
    const [w, h] = expand
      ? rotatedSize(picture.width, picture.height, angle)
      : [picture.width, picture.height];
    const out = canvas(w, h);
    const o = out.getContext("2d");
    o.fillStyle = "#000";
    o.fillRect(0, 0, out.width, out.height);
    o.translate(out.width / 2, out.height / 2);
    o.rotate((-angle * Math.PI) / 180);
    o.drawImage(picture, -picture.width / 2, -picture.height / 2);
    return out;
  }

  function scaled(picture, width, height) {
    const out = canvas(width, height);
    out.getContext("2d").drawImage(picture, 0, 0, out.width, out.height);
    return out;
  }

  function fit(width, height, box) {
    const ratio = Math.min(1, box / Math.max(width, height));
    return [Math.max(1, Math.round(width * ratio)), Math.max(1, Math.round(height * ratio))];
  }

  function value(name, key) {
    const field = form.elements.namedItem(`${name}.${key}`);
    if (!field) return null;
    const text = (field.value || field.dataset.default || "").trim();
    if (field.tagName === "SELECT") return text === "true";
    if (text === "") return null;
    const number = Number(text);
    return Number.isFinite(number) ? number : null;
  }

  function render() {
    if (!source) return;
    const chosen = Array.from(form.querySelectorAll("input[name=filter]:checked"), (b) => b.value);
    let size = [source.width, source.height];
    let picture = scaled(source, ...fit(source.width, source.height, limit));
    const skipped = [];
    for (const name of chosen) {
      const scale = picture.width / size[0];
      if (name === "grayscale") picture = grayscale(picture);
      else if (name === "blur") picture = blurred(picture, (value(name, "radius") ?? 0) * scale);
      else if (name === "sharpen")
        picture = sharpen(picture, (value(name, "radius") ?? 0) * scale, value(name, "percent") ?? 0);
      else if (KERNELS[name]) picture = convolve(picture, KERNELS[name]);
      else if (name === "rotate") {
        const angle = value(name, "angle");
        if (angle === null) {
          skipped.push("rotate needs an angle");
          continue;
        }
        const expand = value(name, "expand");
        if (expand) size = rotatedSize(size[0], size[1], angle);
        picture = rotate(picture, angle, expand);
      } else if (name === "resize") {
        const width = value(name, "width");
        const height = value(name, "height");
        if (!width || !height) {
          skipped.push("resize needs a width and a height");
          continue;
        }
        size = [width, height];
        picture = scaled(picture, ...fit(width, height, limit));
      } else if (name === "thumbnail") {
        size = fit(size[0], size[1], value(name, "size") ?? 256);
        if (size[0] < picture.width) picture = scaled(picture, size[0], size[1]);
      }
    }
    view.width = picture.width;
    view.height = picture.height;
    view.getContext("2d").drawImage(picture, 0, 0);
    sizeText.textContent = `Result: ${size[0]}×${size[1]} px.`;
    noteText.textContent = skipped.length ? `Not shown: ${skipped.join("; ")}.` : "";
    box.hidden = false;
  }

  input.addEventListener("change", async () => {
    const file = input.files && input.files[0];
    source = null;
    box.hidden = true;
    if (!file) return;
    try {
      source = await createImageBitmap(file);
    } catch (error) {
      noteText.textContent = "This browser cannot preview that file; the server will check it.";
      sizeText.textContent = "";
      box.hidden = false;
      return;
    }
    render();
  });
  form.addEventListener("input", (event) => {
    if (event.target !== input) render();
  });
})();
