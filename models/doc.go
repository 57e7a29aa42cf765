// Package models owns the project's neural networks: it converts the seed's
// TensorFlow frozen GraphDefs (the MTCNN detector and the quantized
// age/gender/identity MobileNet) into ONNX with a converter written in Go,
// installs them with a verified registry (registry.json: files, SHA-256,
// licence, inputs and outputs, preprocessing constants, thresholds) in the
// data directory, and runs them through ONNX Runtime (one environment per
// process, one session per model, batched Run calls).
//
// The converter keeps the NHWC layout of the TensorFlow graphs at the model
// boundaries (callers feed exactly what the seed feeds) and computes in NCHW
// inside, with transposes only at the input, before TensorFlow-order
// flattening and at 4-D outputs. Dequantize MIN_FIRST is reproduced exactly
// as TensorFlow computes it, with the 8-bit weights kept 8-bit.
package models
