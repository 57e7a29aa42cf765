// Package heads trains and applies replacement age and gender heads on top of
// the seed network's outputs.
//
// A head reads what the age/gender/identity network already gives for a face
// (its 100-way age softmax, its male sigmoid and its raw 1024-d identity
// features) and predicts age and gender again: gender with an L2-regularised
// logistic regression, age with a shared-weight ordinal model (one weight
// vector and one threshold per year boundary, cumulative logits, as in
// CORAL). Both read the L2-normalised features plus the network's own gender
// logit, log ages and softmax mass per decade, z-scored with statistics of
// the training set. One linear projection cannot serve a toddler's and a
// fifty-year-old's face alike, so an optional adult expert (a second
// ordinal head trained only on faces aged inside a range such as 16-70)
// re-estimates the age of faces the first head places inside a gate such
// as 20-65. Ages are decoded by the median of the ordinal distribution
// (which minimises the expected absolute error) or its expectation,
// whichever cross-validates better.
//
// Training is deterministic: samples are ordered by their key, folds are drawn
// from a seeded generator, numeric loops run in a fixed order on one
// goroutine, so the same data gives the same bytes of the heads file.
// Hyper-parameters (regularisation, group re-weighting, age decoding) are
// chosen by k-fold cross-validation inside the training data only, by
// default on balanced figures where every (decade, gender) group counts the
// same: labelled sets are rarely balanced (UTKFace's training chips are 37 %
// under ten years old), and a photo library is not mostly children. The
// adult expert's range, gate and settings are chosen on the held-out MAE
// of faces aged 21-60 with estimates clipped to [21, 60] (how the seed and
// CORAL-CNN report UTKFace), among settings that keep the overall MAE
// within 1 % of the first head alone.
//
// Sources of labelled faces: folders of chips labelled by UTKFace-style
// names or a CSV (FileSource), and the face index's age samples, where a
// person's birth year set by the user labels every dated photo of them
// (FaceSource over heads/hook.IndexReader).
//
// Heads files are written into the model registry folder as
// heads-NAME.json with their provenance (data hash, n, cross-validation
// figures, the data's licence as the user gave it). Nothing loads them by
// default: the seed's own heads stay the shipped default.
package heads
