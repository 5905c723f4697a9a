// Charts as server-rendered SVG: horizontal bars with a <title> each, coloured by CSS variables (no script).

export interface Bar {
  label: string;
  value: number;
  /** The text shown after the bar and in its <title>. */
  text: string;
}

const ROW = 22;
const LABEL_W = 220;
const BAR_W = 360;

/** Bar lengths, proportional to the largest value; at least 1 px for a value above zero. */
export function barLengths(values: number[], width = BAR_W): number[] {
  const max = Math.max(0, ...values);
  return values.map((v) => (max <= 0 || v <= 0 ? 0 : Math.max(1, Math.round((v / max) * width))));
}

export function BarChart({ bars, label }: { bars: Bar[]; label: string }) {
  const lengths = barLengths(bars.map((b) => b.value));
  const height = bars.length * ROW + 4;
  return (
    <svg class="chart" role="img" aria-label={label} width={LABEL_W + BAR_W + 110} height={height}>
      <title>{label}</title>
      {bars.map((b, i) => (
        <g key={b.label}>
          <title>{`${b.label}: ${b.text}`}</title>
          <text x={0} y={i * ROW + 15}>
            {b.label.length > 34 ? `${b.label.slice(0, 33)}…` : b.label}
          </text>
          <rect class="b" x={LABEL_W} y={i * ROW + 4} width={lengths[i]} height={ROW - 8} />
          <text x={LABEL_W + (lengths[i] ?? 0) + 6} y={i * ROW + 15}>
            {b.text}
          </text>
        </g>
      ))}
    </svg>
  );
}

/** One small proportional bar (layer sizes), `fraction` in [0, 1]. */
export function SizeBar({ fraction, label }: { fraction: number; label: string }) {
  const w = fraction > 0 ? Math.max(1, Math.round(fraction * 160)) : 0;
  return (
    <svg class="chart" role="img" aria-label={label} width={162} height={12}>
      <rect class="track" x={0.5} y={0.5} width={161} height={11} />
      <rect class="b" x={1} y={1} width={w} height={10} />
    </svg>
  );
}
