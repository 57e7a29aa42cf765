package cluster

import (
	"math"
	"sort"
)

// Birth-year fusion. The seed gives a person the median of its faces'
// birth years (date − apparent age). Apparent age is not equally reliable
// at every age (±1-3 years for small children, ±5-11 for teenagers and
// adults, who the network also makes older), a file date that is only the
// file's mtime may be the day a backup was copied, and one face of a
// stranger or a wrong date can sit decades off. EstimateBirth weighs every
// face by the reliability of its apparent age and of its date, calibrates
// the apparent age (see ageCalib), drops faces that disagree with the rest
// by more than BirthOutlierZ standard errors, and gives the estimate a
// standard error and a confidence.

// BirthObs is one face's evidence on its person's birth year.
type BirthObs struct {
	// When is the capture time in decimal years (DecimalYear), Age the
	// apparent age; faces without either are ignored.
	When, Age float64
	// MtimeOnly: the date is the file's modification time, not the
	// photo's own (EXIF) date.
	MtimeOnly bool
}

// Birth is a person's birth-year estimate.
type Birth struct {
	// Year is the decimal birth year (the integer year is floor(Year)).
	Year float64
	// Sigma is its standard error in years.
	Sigma float64
	// Confidence is the probability that the integer year is within two
	// years of the truth, under that standard error (0..1).
	Confidence float64
	// Faces counts the faces used; Outliers those dropped.
	Faces, Outliers int
}

// MtimeSigma is the extra uncertainty (years) of a date that is only a
// file mtime: copies and backups move it.
const MtimeSigma = 3.0

// birthFloor is the part of the error no number of faces removes (one
// person's apparent ages err alike, and calibration is approximate).
const birthFloor = 1.0

// BirthOutlierZ is the distance (standard errors of the face) beyond which
// a face's birth year is an outlier.
const BirthOutlierZ = 2.5

// EstimateBirth fuses the faces' evidence; ok is false when no face has a
// date and an age.
func EstimateBirth(obs []BirthObs) (b Birth, ok bool) {
	type est struct{ b, s, w float64 }
	var es []est
	// a date that is only an mtime weighs less than a photo's own date;
	// when every date is an mtime they share that doubt, which widens the
	// estimate's error but does not change how the faces weigh
	exif, mtime := false, false
	for _, o := range obs {
		if o.When > 0 && o.Age > 0 {
			exif = exif || !o.MtimeOnly
			mtime = mtime || o.MtimeOnly
		}
	}
	for _, o := range obs {
		if o.When <= 0 || o.Age <= 0 {
			continue
		}
		a, s := calib(o.Age)
		if o.MtimeOnly && exif {
			s = math.Hypot(s, MtimeSigma)
		}
		// completed years: the mean exact age is half a year more
		es = append(es, est{o.When - a - 0.5, s, 1 / (s * s)})
	}
	if len(es) == 0 {
		return Birth{}, false
	}
	// weighted median as the robust centre
	sort.Slice(es, func(i, j int) bool { return es[i].b < es[j].b })
	var tw float64
	for _, e := range es {
		tw += e.w
	}
	centre, acc := es[len(es)-1].b, 0.0
	for _, e := range es {
		acc += e.w
		if acc >= tw/2 {
			centre = e.b
			break
		}
	}
	// weighted mean of the faces within BirthOutlierZ of the centre,
	// twice (the mean is the better centre for the second pass)
	for range 2 {
		var sw, swb float64
		n := 0
		for _, e := range es {
			if math.Abs(e.b-centre) <= BirthOutlierZ*math.Hypot(e.s, birthPersonSigma) {
				sw += e.w
				swb += e.w * e.b
				n++
			}
		}
		if n == 0 {
			break
		}
		centre = swb / sw
		b = Birth{Year: centre, Faces: n, Outliers: len(es) - n,
			Sigma: math.Sqrt(1/sw + birthFloor*birthFloor)}
	}
	if mtime && !exif {
		b.Sigma = math.Hypot(b.Sigma, MtimeSigma)
	}
	b.Confidence = math.Erf(2.5 / (b.Sigma * math.Sqrt2))
	return b, true
}
