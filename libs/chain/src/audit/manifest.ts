import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { AnchoredSegment } from '../anchor-client';

/** One leaf of a segment, with the position of the event it was computed from. */
export interface ManifestLeaf {
  readonly position: number;
  /** 0x-hex leaf hash. */
  readonly leaf: string;
}

/**
 * Where the anchoring keeps each segment's leaves. The chain holds only the root; the leaves let
 * a verifier name the one event that no longer matches. They need no trust: a verifier accepts
 * them only when they hash to the anchored root, so they may be published anywhere.
 */
export interface LeafManifests {
  write(segment: AnchoredSegment, leaves: readonly ManifestLeaf[]): Promise<void>;
  /** The leaves written for this segment, or null. */
  read(segment: AnchoredSegment): Promise<ManifestLeaf[] | null>;
}

/**
 * One text file per segment, `<from>-<to>.leaves` in a directory: a first line with the root,
 * then `<position> <leaf>` per event. Written to a temporary name and renamed, so a crash never
 * leaves half a file; rewritten when a segment is recomputed (the anchor of an earlier attempt
 * never landed).
 */
export class FileLeafManifests implements LeafManifests {
  constructor(private readonly dir: string) {}

  private path(segment: AnchoredSegment): string {
    return join(this.dir, `${segment.fromPosition}-${segment.toPosition}.leaves`);
  }

  async write(segment: AnchoredSegment, leaves: readonly ManifestLeaf[]): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    const path = this.path(segment);
    const text = [`root ${segment.merkleRoot}`, ...leaves.map((l) => `${l.position} ${l.leaf}`)].join('\n') + '\n';
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
  }

  async read(segment: AnchoredSegment): Promise<ManifestLeaf[] | null> {
    let text: string;
    try {
      text = await readFile(this.path(segment), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw error;
    }
    const leaves: ManifestLeaf[] = [];
    for (const line of text.split('\n').slice(1)) {
      const m = /^([0-9]+) (0x[0-9a-f]{64})$/.exec(line);
      if (m) leaves.push({ position: Number(m[1]), leaf: m[2]! });
    }
    return leaves;
  }
}
