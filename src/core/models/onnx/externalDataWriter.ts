/**
 * Streams tensor payloads into an ONNX external-data file as initializers are created, so a
 * multi-GB model never sits in one Buffer (protobuf caps a file at 2 GB; Node caps a Buffer at
 * 4 GB). Each tensor starts on an aligned offset so onnxruntime can map it directly.
 */
import { closeSync, openSync, writeSync } from 'node:fs';
import { basename } from 'node:path';
import type { ExternalDataRef } from './onnxProto';

export class ExternalDataWriter {
  private fd: number | null;
  private position = 0;
  /** File name as recorded in the model (relative to the .onnx file, which sits beside it). */
  readonly location: string;

  constructor(readonly path: string, private readonly alignment = 4096) {
    this.fd = openSync(path, 'w');
    this.location = basename(path);
  }

  get bytesWritten(): number {
    return this.position;
  }

  append(bytes: Uint8Array): ExternalDataRef {
    if (this.fd === null) throw new Error(`external data file ${this.path} is already closed`);
    const padding = (this.alignment - (this.position % this.alignment)) % this.alignment;
    if (padding) this.writeAll(new Uint8Array(padding));
    const offset = this.position;
    this.writeAll(bytes);
    return { location: this.location, offset, length: bytes.byteLength };
  }

  close(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.byteLength) {
      done += writeSync(this.fd as number, bytes, done, bytes.byteLength - done, this.position + done);
    }
    this.position += bytes.byteLength;
  }
}
