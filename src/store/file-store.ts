import { createWriteStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GridFSBucket, MongoRuntimeError, ObjectId, type Db, type GridFSFile } from 'mongodb';
import { VdetError } from '../platform/errors.js';

/** A stored file as its readers see it: `id` is what `open` takes, `name` what files are looked up and deleted by. */
export interface StoredFile {
  id: string;
  name: string;
  /** Bytes. */
  length: number;
  uploadedAt: Date;
  metadata: Readonly<Record<string, unknown>>;
}

/**
 * Files kept in the store, readable by every process that reaches it (no shared disk): the uploads, the annotated
 * renderings. Several files may carry one name (revisions, two writers racing); readers pick the first or the last.
 */
export interface FileStore {
  /**
   * Streams `source` in as `name` and returns its id. A write that fails (the source broke off, a transform refused
   * it, the store went away) removes what it wrote before it throws; nothing half-written is ever found by name.
   */
  write(name: string, source: NodeJS.ReadableStream | Readable, metadata: Record<string, unknown>): Promise<string>;
  /** Sets fields of a stored file's metadata (what is known only once its bytes are read). */
  annotate(id: string, fields: Record<string, unknown>): Promise<void>;
  /** The earliest stored file of this name, or the latest. */
  first(name: string): Promise<StoredFile | undefined>;
  last(name: string): Promise<StoredFile | undefined>;
  /** The file's bytes, or `[start, end)` of them. */
  open(id: string, range?: { start: number; end: number }): Readable;
  /** Copies the latest file of this name to a private local file (mode 600); false when none is stored. */
  copyTo(name: string, file: string): Promise<boolean>;
  /** Removes every file of this name; none is fine. A failure throws, so that whoever deletes can try again. */
  deleteNamed(name: string): Promise<void>;
  /** Removes one file; one already gone is fine. */
  delete(id: string): Promise<void>;
}

/** A FileStore in the GridFS bucket `bucketName` of `db`. */
export function gridFsFileStore(db: Db, bucketName: string): FileStore {
  const bucket = new GridFSBucket(db, { bucketName, chunkSizeBytes: 1024 * 1024 });
  const files = db.collection<GridFSFile>(`${bucketName}.files`);
  const oneNamed = async (name: string, order: 1 | -1) => {
    const [found] = await bucket.find({ filename: name }).sort({ uploadDate: order, _id: order }).limit(1).toArray();
    return found && storedFile(found);
  };
  const remove = (id: ObjectId) => bucket.delete(id).catch((error: unknown) => {
    if (!(error instanceof MongoRuntimeError && error.message.startsWith('File not found'))) throw error;
  });
  return {
    async write(name, source, metadata) {
      const sink = bucket.openUploadStream(name, { metadata });
      try {
        await pipeline(source, sink);
      } catch (error) {
        // An aborted GridFS stream leaves chunks without a files document: removed by id.
        await remove(sink.id).catch(() => undefined);
        throw error;
      }
      return sink.id.toHexString();
    },
    async annotate(id, fields) {
      const set = Object.fromEntries(Object.entries(fields).map(([key, value]) => [`metadata.${key}`, value]));
      await files.updateOne({ _id: new ObjectId(id) }, { $set: set });
    },
    first: (name) => oneNamed(name, 1),
    last: (name) => oneNamed(name, -1),
    open: (id, range) => bucket.openDownloadStream(new ObjectId(id), range),
    async copyTo(name, file) {
      try {
        await pipeline(bucket.openDownloadStreamByName(name), createWriteStream(file, { mode: 0o600 }));
        return true;
      } catch (cause) {
        if (/FileNotFound/i.test(String((cause as Error | undefined)?.message ?? cause))) return false;
        throw cause;
      }
    },
    async deleteNamed(name) {
      for (const found of await bucket.find({ filename: name }, { projection: { _id: 1 } }).toArray()) await remove(found._id);
    },
    delete: (id) => remove(new ObjectId(id)),
  };
}

/**
 * Copies an upload to a private file for ffmpeg; VDET_UPLOAD_LOST when it is no longer stored. Name the file without
 * an extension: ffmpeg must recognise the content, never trust a name.
 */
export async function copyUpload(uploads: Pick<FileStore, 'copyTo'>, uploadId: string, file: string): Promise<void> {
  if (!(await uploads.copyTo(uploadId, file))) throw new VdetError('VDET_UPLOAD_LOST', 'The uploaded file is no longer stored.');
}

function storedFile(file: GridFSFile): StoredFile {
  return { id: file._id.toHexString(), name: file.filename, length: file.length, uploadedAt: file.uploadDate, metadata: file.metadata ?? {} };
}
