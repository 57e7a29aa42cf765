// Package analyzer turns one photo or video into faces: it decodes the file
// (JPEG, PNG, TIFF, WebP, BMP; MOV, AVI, MP4, M4V, MKV) with OpenCV, applies
// the EXIF orientation itself, runs the seed's MTCNN (analyzer/mtcnn) on the
// upright image, crops every face with the seed's +10 px margin and runs the
// age/gender/identity network on all faces of the file in one batch.
//
// Boxes are reported in upright pixels of the full-resolution image
// (face.Face.Box) and in the stored pixel frame (face.Face.StoredBox), the
// frame MWG regions use.
//
// # Exact and fast mode
//
// Options.Exact reproduces the seed step by step (full-resolution decode and
// detection, thresholds 0.6/0.7/0.9, pyramid resized from the image,
// float64 zero-padded crops, rotation retry on every photo without a face)
// and is what the reference tests use. The default fast mode is built for
// 12 MP photos on two cores; each deviation was measured, and each can be
// switched back by an option:
//
//   - Detection on a reduced image: a JPEG is decoded with libjpeg's
//     DCT-domain scaling at the coarsest 1/2, 1/4 or 1/8 that keeps ≥ 90 % of
//     DetectMaxSide (1024), the rest resized with INTER_AREA. MinSize is
//     scaled with the image but not below MinDetectSize (32): P-Net's cost
//     follows (DetectMaxSide/MinDetectSize)²; 1024/32 keeps F1 on dlib's
//     faces at 12 MP where 40 lost two faces. Photos up to 1024 px are
//     detected at full resolution, as the seed does at MinSize 32.
//   - P-Net threshold 0.8 (PNetThreshold): a third fewer candidates for
//     R-Net and O-Net; the same 128 faces as 0.6 on the 49 real test photos
//     (TestCompareDefaults), where 0.9, and R-Net 0.8, lose a real face.
//   - Pyramid levels resized from the smallest earlier level at least twice
//     their size (SeedPyramid to turn off): INTER_AREA costs in proportion to
//     its source. A plain level-to-level chain, or levels from a 2:1 dyadic
//     pyramid at ratios below 2, lost a hard face.
//   - R-/O-Net crops inside the image resized in 8 bits from the image, or
//     for large boxes from the image halved while the box keeps twice the
//     network's input (SeedCrops to turn off): ≤ 1 grey level from the
//     seed's float64 crops, ≤ 2 on average for halved ones.
//   - The rotation retry (no face found: try 90° clockwise, then counter-
//     clockwise) runs on a copy reduced to RetryMaxSide (512), and not at all
//     on files whose EXIF Orientation tag says which way is up (RetryTagged
//     to retry anyway): without a face a photo paid three detections.
//   - Crops for the 224 px network come from a resolution where the crop has
//     ≥ CropMinSide (112) px when the file has it; then only the rectangle
//     holding the faces is decoded again (libjpeg-turbo through cgo: rows
//     above not entropy-decoded again but resumed from the Huffman
//     decoder's state recorded by the detection decode, rows between
//     faces far apart vertically and rows below never decoded, columns
//     cropped before the inverse DCT; see jpegregion.go), the whole image
//     at that scale when the region decoder cannot (e.g. CMYK).
//
// Against the exact mode on all 49 real test photos (500-2280 px;
// TestCompareDefaults with FACED_REF=exact) the fast default finds the same
// 128 faces and not the seed's false face on dogs.jpg; on shared faces box
// IoU 0.961, feature cosine 0.990 (min 0.952), |Δage| 0.76 y, |Δmale_prob|
// 0.011 on average.
//
// Why 112 px and not 224: TestCropResolution (opt-in) cut the faces of the
// real test photos whose crops have ≥ 128 px (17 faces) from copies reduced
// so that the crop had S px, and compared the network's outputs with the
// native crop's. A mere 2 px shift of the native crop changes them by
// cosine 0.987 (mean; min 0.969), |Δage| 0.7 y, |Δmale_prob| 0.027. At
// S = 112: cosine 0.991 (min 0.981), 1.1 y, 0.017; S = 96: 0.987, 1.1 y,
// 0.021, the jitter level; S = 80: 0.979; S = 56: 0.950. Decoding a 12 MP
// JPEG at full resolution costs 66-78 ms of CPU, at 1/2 37-51, at 1/4 27-39
// (TestDecodeScales).
//
// # Speed
//
// Throughput comes from workers, not from threads inside one analysis:
// with as many workers as cores, ONNX Runtime single-threaded per run
// (Threads 1, MTCNNThreads 1, no spinning: models.SessionOptions) and
// OpenCV single-threaded (SetOpenCVThreads(1)), every core runs one
// photo's decode and inference with nothing idle or spinning. Bench
// reports photos/s and the process CPU time per photo, the figure that
// predicts throughput on free cores (photos/s ≈ cores / CPU per photo).
//
// Measured on this project's 2-core machine (shared, so per-photo CPU time
// is the reliable figure; BenchmarkAnalyze12MP*, TestProfile12MP): 12 MP
// JPEGs (test photos upscaled, quality 90) cost 51-54 ms of CPU per photo
// with 0-3 faces (22 photos, 1.0 face/photo), 80-84 ms with 4.4
// faces/photo (8 group photos). Per photo with 0-3 faces: decode 17, P-Net
// 19-20 (of which the pyramid's resizes 2), R-Net 5.5, O-Net 3, age/gender
// 5 per face, Go runtime ~3; with 4.4 faces: decode 24 (of which the face
// regions 6-7), P-Net 16.5, R-Net 7.8, O-Net 8.8, age/gender 20.7. Two free
// cores therefore give about 38 photos/s on the first and 24 on the
// second; P-Net's convolutions (whose cost follows
// (DetectMaxSide/MinDetectSize)², fixed by recall), the entropy decoding
// of the JPEG (12-16 ms whatever the DCT scale) and, on crowded photos,
// the age/gender network (4.3-4.7 ms a face) and O-Net (0.3 ms a
// candidate) are what is left. What made them cheaper, all without
// changing a pixel or a score: PReLU fused for ONNX Runtime
// (models.SessionOptions), OpenCV's INTER_AREA recomputed faster
// (mtcnn.ResizeArea, AVX2 where available), buffers kept from photo to
// photo (models.FreeList) instead of page-faulted in again, R-/O-Net run
// in batches that keep their activations in the cache (mtcnn.RNetBatch,
// ONetBatch), and the face-region decode resuming from the detection
// decode's entropy-decoder checkpoints (jpegCheckpoints).
//
// The opt-in profiling tests (FACED_PROFILE=1: TestProfile12MP,
// TestThroughput12MP, TestDecodeScales, TestCropResolution,
// TestCompareDefaults) measure CPU per stage on the analysing thread.
package analyzer
