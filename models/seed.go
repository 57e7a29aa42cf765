package models

// Seed file names and their pinned SHA-256 (../shared/seed/README.md).
const (
	SeedAgeGenderFile   = "age_gender_tf2_new-01-0.14-0.92_quantized.pb"
	SeedAgeGenderSHA256 = "2a917c62e3a6cdd2d1556a86ae564dacb3704243048659d5d4d217933239dee3"
	SeedMTCNNFile       = "mtcnn.pb"
	SeedMTCNNSHA256     = "4a7a4bdd48937d80d77f98823e0041cd111a7e65edeaae96cf3237010bd52688"
	SeedLicenseFile     = "LICENSE"
	SeedLicense         = "Apache-2.0"
)

// Model names in the registry.
const (
	AgeGender     = "agegender"      // weight-only 8-bit (DequantizeLinear), float32 compute
	AgeGenderInt8 = "agegender-int8" // int8 QDQ
	PNet          = "pnet"
	RNet          = "rnet"
	ONet          = "onet"
)

// Preprocessing constants of the seed (SPEC.md §1, §2).
var (
	// CaffeMeans are subtracted from B, G, R (in that order) before the
	// age/gender/identity network.
	CaffeMeans = [3]float32{103.939, 116.779, 123.68}
)

const (
	MTCNNMean  = 127.5     // x = (pixel - 127.5) * 0.0078125
	MTCNNScale = 0.0078125 //
	// DefaultDistanceThreshold is the best cut of the seed's single linkage
	// (cluster.SeedCluster, with its age term) for this converter's int8
	// identity features on the LFW dev set (../shared/testdata/lfw/images,
	// `faced-lab eval cluster --method seed --eps X`): BCubed F1 0.839 at
	// 0.74, 0.859 at 0.75, 0.856 at 0.76, 0.843 at 0.78.
	DefaultDistanceThreshold = 0.75
)

// clusterThresholds are faced's person-clustering options tuned for the
// identity features (cluster.OptionsFromThresholds reads them; LFW dev
// BCubed F1 0.962): link radius, the tighter radius for non-core faces,
// core rule, link share and age-term weight.
var clusterThresholds = map[string]float64{
	"cluster_eps":        0.82,
	"cluster_join_eps":   0.80,
	"cluster_min_pts":    5,
	"cluster_link":       0.35,
	"cluster_age_weight": 0,
}

// spec describes one model produced from a seed GraphDef.
type spec struct {
	name     string
	seedFile string
	seedSHA  string
	input    string
	outputs  []string
	dims     map[int]string
	qdq      bool
	info     func(*ModelInfo)
}

func specs() []spec {
	ag := func(mi *ModelInfo) {
		mi.InputSize = [2]int{224, 224}
		mi.Preprocess = Preprocess{Layout: "NHWC", ChannelOrder: "BGR", Mean: CaffeMeans[:], Scale: 1, Resize: "bilinear"}
		mi.Thresholds = map[string]float64{"male": 0.6, "distance": DefaultDistanceThreshold}
		for k, v := range clusterThresholds {
			mi.Thresholds[k] = v
		}
	}
	mt := func(size int, th float64) func(*ModelInfo) {
		return func(mi *ModelInfo) {
			mi.InputSize = [2]int{size, size}
			m := float32(MTCNNMean)
			mi.Preprocess = Preprocess{Layout: "NHWC (image transposed: H and W swapped)", ChannelOrder: "RGB", Mean: []float32{m, m, m}, Scale: MTCNNScale, Resize: "area"}
			mi.Thresholds = map[string]float64{"face": th}
		}
	}
	agOut := []string{"age_pred/Softmax", "gender_pred/Sigmoid", "global_pooling/Mean"}
	return []spec{
		{name: AgeGender, seedFile: SeedAgeGenderFile, seedSHA: SeedAgeGenderSHA256, input: "input_1",
			outputs: agOut, dims: map[int]string{0: "N"}, info: func(mi *ModelInfo) { ag(mi); mi.FoldWeights = true }},
		{name: AgeGenderInt8, seedFile: SeedAgeGenderFile, seedSHA: SeedAgeGenderSHA256, input: "input_1",
			outputs: agOut, dims: map[int]string{0: "N"}, qdq: true, info: ag},
		{name: PNet, seedFile: SeedMTCNNFile, seedSHA: SeedMTCNNSHA256, input: "pnet/input",
			outputs: []string{"pnet/conv4-2/BiasAdd", "pnet/prob1"}, dims: map[int]string{0: "N", 1: "H", 2: "W"}, info: mt(0, 0.6)},
		{name: RNet, seedFile: SeedMTCNNFile, seedSHA: SeedMTCNNSHA256, input: "rnet/input",
			outputs: []string{"rnet/conv5-2/conv5-2", "rnet/prob1"}, dims: map[int]string{0: "N"}, info: mt(24, 0.7)},
		{name: ONet, seedFile: SeedMTCNNFile, seedSHA: SeedMTCNNSHA256, input: "onet/input",
			outputs: []string{"onet/conv6-2/conv6-2", "onet/conv6-3/conv6-3", "onet/prob1"}, dims: map[int]string{0: "N"}, info: mt(48, 0.9)},
	}
}
