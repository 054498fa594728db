// Hand-written SVG charts (no dependencies): lines on log-log axes, and
// grouped bars on a logarithmic y axis.

export interface Series {
  label: string;
  color: string;
  /** stroke-dasharray; undefined draws a solid line. */
  dash?: string;
  /** Marker radius; 0 for none. */
  marker: number;
  points: Array<[x: number, y: number]>;
}

export interface ChartOptions {
  title: string;
  subtitle: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  /** Short grey lines under the legend. */
  notes?: string[];
}

const WIDTH = 900;
const HEIGHT = 560;
const PLOT = { left: 80, top: 78, width: 560, height: 400 };
const LEGEND_X = PLOT.left + PLOT.width + 24;

function escapeXml(s: string): string {
  return s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

/** Decade bounds [10^a, 10^b] covering the values. */
function decades(values: number[]): [number, number] {
  const lo = Math.floor(Math.log10(Math.min(...values)));
  let hi = Math.ceil(Math.log10(Math.max(...values)));
  if (hi === lo) hi++;
  return [lo, hi];
}

function tickLabel(exp: number, unit = ''): string {
  const v = 10 ** exp;
  if (exp >= 3 && unit === '') return `${v / 1000}k`;
  return `${exp < 0 ? v.toFixed(-exp) : v}${unit}`;
}

const r1 = (v: number): string => v.toFixed(1);

export function logLogChart(opts: ChartOptions): string {
  const points = opts.series.flatMap((s) => s.points).filter(([x, y]) => x > 0 && y > 0);
  if (points.length === 0) points.push([10, 1], [1000, 10]);
  const [x0, x1] = decades(points.map((p) => p[0]));
  const [y0, y1] = decades(points.map((p) => p[1]));
  const sx = (x: number): number => PLOT.left + ((Math.log10(x) - x0) / (x1 - x0)) * PLOT.width;
  const sy = (y: number): number => PLOT.top + PLOT.height - ((Math.log10(y) - y0) / (y1 - y0)) * PLOT.height;
  const out: string[] = [];
  const add = (s: string): number => out.push(s);

  add(chartHeader(opts.title, opts.subtitle));

  // Grid: decades solid, 2..9 faint; tick labels at decades.
  for (let e = x0; e <= x1; e++) {
    const x = sx(10 ** e);
    add(`<line x1="${r1(x)}" y1="${PLOT.top}" x2="${r1(x)}" y2="${PLOT.top + PLOT.height}" stroke="#cccccc"/>`);
    add(`<text x="${r1(x)}" y="${PLOT.top + PLOT.height + 18}" text-anchor="middle" font-size="12">${tickLabel(e)}</text>`);
    for (let m = 2; m <= 9 && e < x1; m++) {
      const xm = sx(m * 10 ** e);
      add(`<line x1="${r1(xm)}" y1="${PLOT.top}" x2="${r1(xm)}" y2="${PLOT.top + PLOT.height}" stroke="#eeeeee"/>`);
    }
  }
  add(logYGrid(y0, y1, sy));
  add(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#333333"/>`);
  add(`<text x="${PLOT.left + PLOT.width / 2}" y="${PLOT.top + PLOT.height + 42}" text-anchor="middle" font-size="13">${escapeXml(opts.xLabel)}</text>`);
  const yMid = PLOT.top + PLOT.height / 2;
  add(`<text x="22" y="${yMid}" text-anchor="middle" font-size="13" transform="rotate(-90 22 ${yMid})">${escapeXml(opts.yLabel)}</text>`);

  for (const s of opts.series) {
    const pts = s.points.filter(([x, y]) => x > 0 && y > 0).sort((a, b) => a[0] - b[0]);
    if (pts.length === 0) continue;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    const path = pts.map(([x, y]) => `${r1(sx(x))},${r1(sy(y))}`).join(' ');
    add(`<polyline points="${path}" fill="none" stroke="${s.color}" stroke-width="2"${dash}/>`);
    if (s.marker > 0) {
      for (const [x, y] of pts) add(`<circle cx="${r1(sx(x))}" cy="${r1(sy(y))}" r="${s.marker}" fill="${s.color}"/>`);
    }
  }

  const shown = opts.series.filter((s) => s.points.length > 0);
  shown.forEach((s, i) => {
    const y = PLOT.top + 10 + i * 22;
    const dash = s.dash ? ` stroke-dasharray="${s.dash}"` : '';
    add(`<line x1="${LEGEND_X}" y1="${y}" x2="${LEGEND_X + 34}" y2="${y}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    if (s.marker > 0) add(`<circle cx="${LEGEND_X + 17}" cy="${y}" r="${s.marker}" fill="${s.color}"/>`);
    add(`<text x="${LEGEND_X + 42}" y="${y + 4}" font-size="12">${escapeXml(s.label)}</text>`);
  });
  (opts.notes ?? []).forEach((note, i) => {
    const y = PLOT.top + 10 + shown.length * 22 + 16 + i * 16;
    add(`<text x="${LEGEND_X}" y="${y}" font-size="11" fill="#555">${escapeXml(note)}</text>`);
  });
  add('</svg>');
  return out.join('\n') + '\n';
}

export interface Bar {
  /** Index into BarChartOptions.series. */
  series: number;
  value: number;
  /** Draws a whisker from the value up to it. */
  p99?: number;
  /** A short line under the value label (e.g. which operation a peer ran). */
  caption?: string;
}

export interface BarGroup {
  label: string;
  sublabel?: string;
  bars: Bar[];
  /** A dashed line across the group, explained under its label. */
  target?: { value: number; label: string };
}

export interface BarChartOptions {
  title: string;
  subtitle: string;
  yLabel: string;
  /** ink: the colour of a value written inside a bar (default white). */
  series: Array<{ label: string; color: string; ink?: string }>;
  groups: BarGroup[];
  notes?: string[];
}

/** Grouped bars on a logarithmic y axis; a series missing from a group shows "n/a". */
export function logBarChart(opts: BarChartOptions): string {
  // A target line keeps some room below it, so that it never lies on the axis.
  const values = opts.groups.flatMap((g) => [...g.bars.flatMap((b) => [b.value, b.p99 ?? b.value]), ...(g.target ? [g.target.value * 0.8] : [])]).filter((v) => v > 0);
  if (values.length === 0) values.push(1, 10);
  const [y0, y1] = decades(values);
  const sy = (y: number): number => PLOT.top + PLOT.height - ((Math.log10(y) - y0) / (y1 - y0)) * PLOT.height;
  const bottom = PLOT.top + PLOT.height;
  const out: string[] = [];
  const add = (s: string): number => out.push(s);

  add(chartHeader(opts.title, opts.subtitle));
  add(logYGrid(y0, y1, sy));
  const yMid = PLOT.top + PLOT.height / 2;
  add(`<text x="22" y="${yMid}" text-anchor="middle" font-size="13" transform="rotate(-90 22 ${yMid})">${escapeXml(opts.yLabel)}</text>`);

  const groupWidth = PLOT.width / Math.max(1, opts.groups.length);
  const slots = Math.max(1, opts.series.length);
  const barWidth = Math.min(44, (groupWidth * 0.78) / slots);
  opts.groups.forEach((group, gi) => {
    const left = PLOT.left + gi * groupWidth + (groupWidth - barWidth * slots) / 2;
    if (gi > 0) add(`<line x1="${r1(PLOT.left + gi * groupWidth)}" y1="${PLOT.top}" x2="${r1(PLOT.left + gi * groupWidth)}" y2="${bottom}" stroke="#dddddd"/>`);
    for (let si = 0; si < slots; si++) {
      const x = left + si * barWidth;
      const cx = x + barWidth / 2;
      const bar = group.bars.find((b) => b.series === si);
      if (!bar || !(bar.value > 0)) {
        add(`<text x="${r1(cx)}" y="${bottom - 6}" text-anchor="middle" font-size="10" fill="#888">n/a</text>`);
        continue;
      }
      const top = sy(bar.value);
      const color = opts.series[si].color;
      add(`<rect x="${r1(x + 2)}" y="${r1(top)}" width="${r1(barWidth - 4)}" height="${r1(bottom - top)}" fill="${color}"/>`);
      let labelY = top - 5;
      if (bar.p99 !== undefined && bar.p99 > bar.value) {
        const yp = sy(bar.p99);
        add(`<line x1="${r1(cx)}" y1="${r1(top)}" x2="${r1(cx)}" y2="${r1(yp)}" stroke="#333333"/>`);
        add(`<line x1="${r1(cx - 5)}" y1="${r1(yp)}" x2="${r1(cx + 5)}" y2="${r1(yp)}" stroke="#333333"/>`);
        labelY = yp - 5;
      }
      // The value goes inside the top of its bar where the bar is tall enough, else above the whisker.
      const inside = bottom - top >= 20;
      const valueY = inside ? top + 14 : labelY;
      const fill = inside ? ` fill="${opts.series[si].ink ?? '#ffffff'}" font-weight="bold"` : '';
      // Narrow bars (many series) get a smaller label with two significant digits.
      const narrow = barWidth < 30;
      const label = narrow ? String(Number(bar.value.toPrecision(2))) : valueLabel(bar.value);
      add(`<text x="${r1(cx)}" y="${r1(valueY)}" text-anchor="middle" font-size="${narrow ? 9 : 11}"${fill}>${escapeXml(label)}</text>`);
      if (!inside) labelY -= 13;
      if (bar.caption) add(`<text x="${r1(cx)}" y="${r1(labelY)}" text-anchor="middle" font-size="10" fill="#555">${escapeXml(bar.caption)}</text>`);
    }
    if (group.target) {
      const y = sy(group.target.value);
      const x0 = PLOT.left + gi * groupWidth + 6;
      const x1 = PLOT.left + (gi + 1) * groupWidth - 6;
      add(`<line x1="${r1(x0)}" y1="${r1(y)}" x2="${r1(x1)}" y2="${r1(y)}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"/>`);
    }
    const cx = PLOT.left + (gi + 0.5) * groupWidth;
    add(`<text x="${r1(cx)}" y="${bottom + 18}" text-anchor="middle" font-size="12">${escapeXml(group.label)}</text>`);
    if (group.sublabel) add(`<text x="${r1(cx)}" y="${bottom + 34}" text-anchor="middle" font-size="11" fill="#555">${escapeXml(group.sublabel)}</text>`);
    if (group.target) {
      const y = bottom + (group.sublabel ? 50 : 34);
      add(`<line x1="${r1(cx - 62)}" y1="${y - 4}" x2="${r1(cx - 44)}" y2="${y - 4}" stroke="#c0392b" stroke-width="1.5" stroke-dasharray="6 4"/>`);
      add(`<text x="${r1(cx - 40)}" y="${y}" font-size="11" fill="#c0392b">${escapeXml(group.target.label)}</text>`);
    }
  });
  add(`<rect x="${PLOT.left}" y="${PLOT.top}" width="${PLOT.width}" height="${PLOT.height}" fill="none" stroke="#333333"/>`);

  opts.series.forEach((s, i) => {
    const y = PLOT.top + 10 + i * 22;
    add(`<rect x="${LEGEND_X}" y="${y - 7}" width="28" height="14" fill="${s.color}"/>`);
    add(`<text x="${LEGEND_X + 36}" y="${y + 4}" font-size="12">${escapeXml(s.label)}</text>`);
  });
  (opts.notes ?? []).forEach((note, i) => {
    const y = PLOT.top + 10 + opts.series.length * 22 + 16 + i * 16;
    add(`<text x="${LEGEND_X}" y="${y}" font-size="11" fill="#555">${escapeXml(note)}</text>`);
  });
  add('</svg>');
  return out.join('\n') + '\n';
}

/** About three significant digits. */
function valueLabel(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  if (v >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

/** The opening tag, background, title and subtitle shared by every chart. */
function chartHeader(title: string, subtitle: string): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif">`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${WIDTH / 2}" y="30" text-anchor="middle" font-size="17" font-weight="bold">${escapeXml(title)}</text>`,
    `<text x="${WIDTH / 2}" y="52" text-anchor="middle" font-size="12" fill="#444">${escapeXml(subtitle)}</text>`,
  ].join('\n');
}

/** Horizontal grid of a log y axis: decades solid and labelled, 2..9 faint. */
function logYGrid(y0: number, y1: number, sy: (y: number) => number): string {
  const lines: string[] = [];
  for (let e = y0; e <= y1; e++) {
    const y = sy(10 ** e);
    lines.push(`<line x1="${PLOT.left}" y1="${r1(y)}" x2="${PLOT.left + PLOT.width}" y2="${r1(y)}" stroke="#cccccc"/>`);
    lines.push(`<text x="${PLOT.left - 8}" y="${r1(y + 4)}" text-anchor="end" font-size="12">${tickLabel(e, ' ')}</text>`);
    for (let m = 2; m <= 9 && e < y1; m++) {
      const ym = sy(m * 10 ** e);
      lines.push(`<line x1="${PLOT.left}" y1="${r1(ym)}" x2="${PLOT.left + PLOT.width}" y2="${r1(ym)}" stroke="#eeeeee"/>`);
    }
  }
  return lines.join('\n');
}

/** Charts made here, one above the other, in one SVG document. */
export function stackCharts(charts: string[]): string {
  const body = charts.map((chart, i) =>
    chart
      .trimEnd()
      .replace(/^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /, `<svg y="${i * HEIGHT}" `),
  );
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT * charts.length}" viewBox="0 0 ${WIDTH} ${HEIGHT * charts.length}">`,
    ...body,
    '</svg>',
  ].join('\n') + '\n';
}
