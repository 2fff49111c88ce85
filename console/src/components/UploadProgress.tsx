/**
 * An upload's progress: a labelled <progress> (the bytes the server confirmed keeping, not the
 * bytes sent) and a status line read out politely by screen readers.
 */
import { useId } from "react";
import { fractionDone, type UploadProgress as Progress } from "../upload";

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let u = -1;
  do {
    v /= 1024;
    u++;
  } while (v >= 1024 && u < units.length - 1);
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[u]}`;
}

const PHASES: Record<Progress["phase"], string> = {
  starting: "Starting the upload session…",
  uploading: "Uploading",
  recovering: "Network error: asking the server what it kept, then resuming…",
  done: "Uploaded",
};

export function UploadProgress(props: { name: string; progress: Progress }) {
  const id = useId();
  const { persisted, total, retries, phase } = props.progress;
  const fraction = fractionDone(persisted, total, phase === "done");
  const percent = Math.round(fraction * 100);
  return (
    <div className="upload-progress" data-testid="upload-progress" data-phase={phase}>
      <label htmlFor={id}>
        {phase === "done" ? "Uploaded" : "Uploading"} <code>{props.name}</code>
      </label>
      <progress id={id} max={total || 1} value={phase === "done" ? total || 1 : persisted}>
        {percent}%
      </progress>
      <p className="muted" aria-live="polite">
        {PHASES[phase]} · {formatBytes(persisted)} of {formatBytes(total)} ({percent}%)
        {retries > 0 && ` · resumed after ${retries} network error${retries === 1 ? "" : "s"}`}
      </p>
    </div>
  );
}
