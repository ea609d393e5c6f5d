import { Readable } from 'node:stream';
import type { Collection, Db } from 'mongodb';
import { VdetError } from '../platform/errors.js';
import { gridFsFileStore, type FileStore } from './file-store.js';
import type { JobRecord } from './job-record.js';
import { describeForRegistry, type ModelRegistry, type ModelVersion, type RegistrySettings } from '../vision/model-registry.js';
import { isDuplicateKey } from './documents.js';

/** Collection `models`: which version of a name is current. */
interface ModelPointer {
  _id: string;
  version: number;
  updatedAt: Date;
}

/** Collection `model_versions`: every version of every name (`_id`: `name@version`), until the name is removed. */
interface ModelVersionRecord extends ModelVersion {
  _id: string;
}

/**
 * The model registry in MongoDB: names and versions in two small collections, the files in the GridFS bucket
 * `models` under their sha256 (one copy of a file however many names and versions use it). Any process that
 * reaches the store reads the same registry: no shared disk.
 */
export class ModelRegistryStore implements ModelRegistry {
  private readonly pointers: Collection<ModelPointer>;
  private readonly versions: Collection<ModelVersionRecord>;
  private readonly files: FileStore;

  constructor(private readonly db: Db, private readonly jobs: Collection<JobRecord> = db.collection<JobRecord>('jobs')) {
    this.pointers = db.collection<ModelPointer>('models');
    this.versions = db.collection<ModelVersionRecord>('model_versions');
    this.files = gridFsFileStore(db, 'models');
  }

  async ensureIndexes(): Promise<void> {
    await this.versions.createIndex({ name: 1 }, { name: 'name' });
    await this.versions.createIndex({ sha256: 1 }, { name: 'sha256' });
    await this.jobs.createIndex({ 'model.name': 1, status: 1 }, { name: 'model_status' });
  }

  async add(name: string, file: Uint8Array, settings: RegistrySettings): Promise<ModelVersion> {
    const { sha256, spec } = describeForRegistry(name, file, settings); // before anything is stored
    if (!(await this.files.first(sha256))) {
      await this.files.write(sha256, Readable.from([Buffer.from(file.buffer, file.byteOffset, file.byteLength)]), { name });
    }
    const stored = { ...settings, ...(settings.labels ? { labels: [...settings.labels] } : {}) };
    for (let attempt = 0; ; attempt++) {
      const current = await this.pointers.findOne({ _id: name });
      const version = (current?.version ?? 0) + 1;
      const record: ModelVersionRecord = {
        _id: `${name}@${version}`, name, version, sha256, bytes: file.byteLength, settings: stored, spec: { ...spec, labels: [...spec.labels] }, addedAt: new Date(),
      };
      try {
        await this.versions.insertOne(record);
      } catch (error) {
        if (isDuplicateKey(error) && attempt < 5) continue; // another add took this version
        throw error;
      }
      const moved = await this.pointers.updateOne({ _id: name, version: { $lt: version } }, { $set: { version, updatedAt: record.addedAt } });
      if (moved.matchedCount === 0) {
        try {
          await this.pointers.insertOne({ _id: name, version, updatedAt: record.addedAt });
        } catch (error) {
          if (!isDuplicateKey(error)) throw error; // a newer version was made current meanwhile
        }
      }
      return fromRecord(record);
    }
  }

  async list(): Promise<ModelVersion[]> {
    const pointers = await this.pointers.find({}).sort({ _id: 1 }).limit(1000).toArray();
    const found: ModelVersion[] = [];
    for (const pointer of pointers) {
      const record = await this.versions.findOne({ _id: `${pointer._id}@${pointer.version}` });
      if (record) found.push(fromRecord(record));
    }
    return found;
  }

  async get(name: string): Promise<ModelVersion | undefined> {
    const pointer = await this.pointers.findOne({ _id: name });
    return pointer ? this.version(name, pointer.version) : undefined;
  }

  async version(name: string, version: number): Promise<ModelVersion | undefined> {
    const record = await this.versions.findOne({ _id: `${name}@${version}` });
    return record ? fromRecord(record) : undefined;
  }

  async remove(name: string): Promise<boolean> {
    // One equality per status: FerretDB pushes equalities down to its indexes (see JobStore.stalled).
    let inUse = 0;
    for (const status of ['queued', 'running'] as const) inUse += await this.jobs.countDocuments({ 'model.name': name, status }, { limit: 100 });
    if (inUse > 0) {
      throw new VdetError('VDET_MODEL_IN_USE', `${inUse === 100 ? '100 or more' : inUse} queued or running job${inUse === 1 ? ' uses' : 's use'} the model "${name}": remove it once they have ended.`);
    }
    const streams = await this.db.collection('streams').countDocuments({ 'model.name': name }, { limit: 100 });
    if (streams > 0) {
      throw new VdetError('VDET_MODEL_IN_USE', `${streams === 100 ? '100 or more' : streams} stream${streams === 1 ? ' is' : 's are'} set to the model "${name}": put their settings to another model first.`);
    }
    const versions = await this.versions.find({ name }, { projection: { sha256: 1 } }).toArray();
    const pointer = await this.pointers.deleteOne({ _id: name });
    await this.versions.deleteMany({ name });
    for (const sha256 of new Set(versions.map((v) => v.sha256))) {
      if (!(await this.versions.findOne({ sha256 }, { projection: { _id: 1 } }))) await this.files.deleteNamed(sha256);
    }
    return pointer.deletedCount > 0 || versions.length > 0;
  }

  async openFile(sha256: string): Promise<Buffer> {
    const stored = await this.files.last(sha256);
    if (!stored) throw new VdetError('VDET_MODEL_UNAVAILABLE', `The model file ${sha256.slice(0, 12)}… is no longer stored.`);
    const parts: Buffer[] = [];
    for await (const part of this.files.open(stored.id)) parts.push(part as Buffer);
    return Buffer.concat(parts);
  }
}

function fromRecord(record: ModelVersionRecord): ModelVersion {
  // A field stored as undefined reads back as null.
  const { _id, settings, spec, ...version } = record;
  return {
    ...version,
    settings: { format: settings.format, pad: settings.pad, ...(settings.labels ? { labels: settings.labels } : {}) },
    spec: { ...spec, classes: spec.classes ?? undefined, labels: Object.freeze([...spec.labels]) },
  };
}
