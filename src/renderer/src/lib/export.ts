// Exports from the page: tables as CSV and JSON, charts as SVG and PNG. Everything is made in
// the page and saved through a download link; nothing leaves the machine.
import { toCsv as csvRows } from '../../../core/common/csv.ts';

export function download(name: string, type: string, data: BlobPart): void {
  const url = URL.createObjectURL(new Blob([data], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.rel = 'noopener';
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/**
 * RFC 4180 CSV with a header row of every row's keys, by the app's one CSV rule (formulas
 * neutralised: core/common/csv.ts).
 */
export function toCsv(rows: readonly Record<string, unknown>[]): string {
  if (rows.length === 0) return '';
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return csvRows(
    keys,
    rows.map((r) => keys.map((k) => r[k])),
    '\r\n',
  );
}

export function downloadCsv(name: string, rows: readonly Record<string, unknown>[]): void {
  download(name, 'text/csv;charset=utf-8', toCsv(rows));
}

export function downloadJson(name: string, value: unknown): void {
  download(name, 'application/json', JSON.stringify(value, null, 2));
}

/** A standalone SVG document of a chart, with its colours resolved. */
export function svgText(svg: SVGSVGElement): string {
  const copy = svg.cloneNode(true) as SVGSVGElement;
  copy.setAttribute('xmlns', 'http://www.w3.org/2000/svg');
  const fg = getComputedStyle(svg).color || '#000';
  copy.setAttribute('color', fg);
  copy.setAttribute('font-family', 'system-ui, sans-serif');
  return new XMLSerializer().serializeToString(copy);
}

export function downloadSvg(name: string, svg: SVGSVGElement): void {
  download(name, 'image/svg+xml', svgText(svg));
}

function base64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Renders an SVG chart to a PNG on a background of the page's colour. */
export async function downloadSvgAsPng(name: string, svg: SVGSVGElement, scale = 2): Promise<void> {
  const text = svgText(svg);
  const img = new Image();
  img.src = `data:image/svg+xml;base64,${base64(new TextEncoder().encode(text))}`;
  await img.decode();
  const w = svg.viewBox.baseVal?.width || svg.clientWidth || 640;
  const h = svg.viewBox.baseVal?.height || svg.clientHeight || 400;
  const canvas = document.createElement('canvas');
  canvas.width = w * scale;
  canvas.height = h * scale;
  const ctx = canvas.getContext('2d');
  if (!ctx) throw new Error('This browser cannot draw the PNG; save the SVG instead.');
  ctx.fillStyle = getComputedStyle(document.body).backgroundColor || '#fff';
  ctx.fillRect(0, 0, canvas.width, canvas.height);
  ctx.drawImage(img, 0, 0, canvas.width, canvas.height);
  await downloadCanvas(name, canvas);
}

export function downloadCanvas(name: string, canvas: HTMLCanvasElement): Promise<void> {
  return new Promise((resolve, reject) =>
    canvas.toBlob((blob) => {
      if (!blob) reject(new Error('The chart could not be saved as PNG.'));
      else {
        download(name, 'image/png', blob);
        resolve();
      }
    }, 'image/png'),
  );
}
