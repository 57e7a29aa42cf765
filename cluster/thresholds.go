package cluster

// Keys of the clustering thresholds in a model's registry entry
// (models.ModelInfo.Thresholds of the identity network): the Engine's
// options belong to the features they were tuned on.
const (
	ThresholdEps       = "cluster_eps"        // Options.Eps
	ThresholdJoinEps   = "cluster_join_eps"   // Options.JoinEps
	ThresholdMinPts    = "cluster_min_pts"    // Options.MinPts
	ThresholdLink      = "cluster_link"       // Options.Link
	ThresholdAgeWeight = "cluster_age_weight" // Options.AgeWeight
	// ThresholdSeedCut is the best cut of the seed's single linkage
	// (SeedCluster) for the model's features; it is not an Engine option.
	ThresholdSeedCut = "distance"
)

// OptionsFromThresholds returns DefaultOptions with every value the model's
// thresholds hold (keys Threshold*) put in its place; absent keys keep the
// defaults. A non-positive Eps, MinPts or JoinEps in the map is ignored.
func OptionsFromThresholds(th map[string]float64) Options {
	o := DefaultOptions()
	if v, ok := th[ThresholdEps]; ok && v > 0 {
		o.Eps = v
	}
	if v, ok := th[ThresholdJoinEps]; ok && v > 0 {
		o.JoinEps = v
	}
	if v, ok := th[ThresholdMinPts]; ok && v >= 1 {
		o.MinPts = int(v)
	}
	if v, ok := th[ThresholdLink]; ok && v >= 0 {
		o.Link = v
	}
	if v, ok := th[ThresholdAgeWeight]; ok && v >= 0 {
		o.AgeWeight = v
	}
	return o
}

// WithEps returns o with the link radius set by the user (the config's
// DistanceThreshold): JoinEps keeps its distance below Eps so that the
// tighter rule for non-core faces stays tighter. eps ≤ 0 returns o.
func (o Options) WithEps(eps float64) Options {
	if eps <= 0 {
		return o
	}
	if o.JoinEps > 0 {
		o.JoinEps = max(eps-(o.Eps-o.JoinEps), eps/2)
	}
	o.Eps = eps
	return o
}
