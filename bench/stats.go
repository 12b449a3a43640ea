package main

import (
	"fmt"
	"math"
	"slices"
)

// summary is the spread of one figure over the trials of a configuration.
type summary struct {
	N                int
	Median, Min, Max float64
	Q1, Q3           float64
	valid            bool
}

// summarize returns the median, extremes and quartiles of xs, ignoring NaN
// (a figure a configuration could not measure in some trial).
func summarize(xs []float64) summary {
	v := make([]float64, 0, len(xs))
	for _, x := range xs {
		if !math.IsNaN(x) {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return summary{}
	}
	slices.Sort(v)
	return summary{
		N:      len(v),
		Median: quantile(v, 0.5),
		Min:    v[0],
		Max:    v[len(v)-1],
		Q1:     quantile(v, 0.25),
		Q3:     quantile(v, 0.75),
		valid:  true,
	}
}

// quantile interpolates linearly between the closest ranks of sorted.
func quantile(sorted []float64, q float64) float64 {
	if len(sorted) == 1 {
		return sorted[0]
	}
	pos := q * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := int(math.Ceil(pos))
	return sorted[lo] + (sorted[hi]-sorted[lo])*(pos-float64(lo))
}

// format prints the median with the min–max range, each with the verb
// given, or "n/a" when nothing was measured.
func (s summary) format(verb string) string {
	if !s.valid {
		return "n/a"
	}
	med := fmt.Sprintf(verb, s.Median)
	if s.N == 1 || s.Min == s.Max {
		return med
	}
	return fmt.Sprintf("%s (%s–%s)", med, fmt.Sprintf(verb, s.Min), fmt.Sprintf(verb, s.Max))
}
