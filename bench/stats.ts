/** Summary statistics and number formats shared by the benchmark reports. */
export const log = (line: string) => process.stderr.write(`${line}\n`);

export const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

export const fmtRate = (x: number) => (x >= 100 ? Math.round(x).toLocaleString("en-US") : x.toFixed(1));
export const fmtRatio = (x: number) => (x >= 10 ? x.toFixed(1) : x >= 1 ? x.toFixed(2) : x.toFixed(3));
export const fmtMs = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? "" : x.toFixed(2));
