// read.mjs: reads photos the way Immich's metadata service does, for faced's
// conformance suite (exporters/conformance/immich.go applies Immich's
// face-import rules to the output).
//
// Reproduced from Immich (github.com/immich-app/immich):
//   - server/src/repositories/metadata.repository.ts: one ExifTool instance
//     with useMWG on, struct on (exiftool-vendored's default: struct=1),
//     numericTags = defaults + FocalLength, FileSize, Rotation, readArgs
//     "-api largefilesupport=1";
//   - server/src/services/metadata.service.ts @0090492a (processSidecar,
//     getExifTags, mergeExifTags): the sidecar is photo.ext.xmp, else
//     photo.xmp; with a sidecar, tags are {...photoTags, ...sidecarTags}.
// exiftool-vendored is pinned in package.json (38.3.0; on Linux it runs the
// Perl exiftool of exiftool-vendored.pl, 13.59).
//
// Usage: node read.mjs PHOTO... ; prints a JSON array, one object per photo:
// {photo, sidecar, tags: {RegionInfo, Orientation, ImageWidth, ImageHeight,
// ImageSize, TagsList, HierarchicalSubject, Keywords}} or {photo, error}.
import { ExifTool, DefaultReadTaskOptions } from "exiftool-vendored";
import { existsSync } from "node:fs";
import path from "node:path";

const exiftool = new ExifTool({
  useMWG: true,
  numericTags: [...DefaultReadTaskOptions.numericTags, "FocalLength", "FileSize", "Rotation"],
  readArgs: ["-api", "largefilesupport=1"],
  maxProcs: 1,
});

function sidecarOf(photo) {
  const withExt = `${photo}.xmp`;
  const p = path.parse(photo);
  const without = path.join(p.dir, p.name) + ".xmp";
  if (existsSync(withExt)) return withExt;
  if (existsSync(without)) return without;
  return null;
}

const keep = ["RegionInfo", "Orientation", "ImageWidth", "ImageHeight", "ImageSize", "TagsList", "HierarchicalSubject", "Keywords"];

const out = [];
try {
  for (const photo of process.argv.slice(2)) {
    try {
      const sidecar = sidecarOf(photo);
      const media = await exiftool.read(photo);
      const side = sidecar ? await exiftool.read(sidecar) : null;
      const merged = { ...media, ...(side ?? {}) };
      const tags = {};
      for (const k of keep) if (merged[k] !== undefined) tags[k] = merged[k];
      out.push({ photo, sidecar, tags });
    } catch (e) {
      out.push({ photo, error: String(e) });
    }
  }
} finally {
  await exiftool.end();
}
process.stdout.write(JSON.stringify(out));
