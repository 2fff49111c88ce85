/** A resumable upload in progress; keyed by the SHA-256 of its upload id (the id is a bearer secret). */
export interface UploadSession {
  idSha256: string;
  /** Names the file under `storage/uploads/` that holds the bytes received so far. */
  fileId: string;
  bucket: string;
  name: string;
  /** Client-writable metadata fixed at initiation. */
  metadata: Record<string, unknown>;
  preconditions: Record<string, string>;
  declared: { md5Hash?: string; crc32c?: string };
  /** The member who initiated it (the session URI then stands in for their credential). */
  principal: string;
  /** Total size if the client declared it (`X-Upload-Content-Length` or a `Content-Range` total). */
  total?: number;
  /** Bytes durably received, from offset 0. */
  persisted: number;
  createTime: string;
  expireTime: string;
  /** Set once finalised: later status queries answer with this object. */
  finalized?: { bucket: string; name: string; generation: string };
}
