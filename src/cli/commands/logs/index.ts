import { group } from "../../spec.js";
import read from "./read.js";

export default group({
  name: "logs",
  summary: "read the server's audit log",
  description:
    "The server appends one JSON line per API request and per token issued or refused to " +
    "`<state-dir>/audit.log`. These commands read that file directly; they need no running server.",
  children: [read],
});
