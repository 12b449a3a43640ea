package main

import (
	"math"
	"testing"
)

func TestSummarize(t *testing.T) {
	tests := []struct {
		name string
		in   []float64
		want summary
	}{
		{"odd", []float64{5, 1, 3}, summary{N: 3, Median: 3, Min: 1, Max: 5, Q1: 2, Q3: 4, valid: true}},
		{"even", []float64{4, 1, 3, 2}, summary{N: 4, Median: 2.5, Min: 1, Max: 4, Q1: 1.75, Q3: 3.25, valid: true}},
		{"one", []float64{7}, summary{N: 1, Median: 7, Min: 7, Max: 7, Q1: 7, Q3: 7, valid: true}},
		{"nan ignored", []float64{math.NaN(), 2, 4}, summary{N: 2, Median: 3, Min: 2, Max: 4, Q1: 2.5, Q3: 3.5, valid: true}},
		{"none", []float64{math.NaN()}, summary{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(tt.in); got != tt.want {
				t.Errorf("summarize(%v) = %+v, want %+v", tt.in, got, tt.want)
			}
		})
	}
}

func TestSummaryFormat(t *testing.T) {
	tests := []struct {
		in   []float64
		want string
	}{
		{[]float64{1, 2, 10}, "2.0 (1.0–10.0)"},
		{[]float64{3, 3}, "3.0"},
		{nil, "n/a"},
	}
	for _, tt := range tests {
		if got := summarize(tt.in).format("%.1f"); got != tt.want {
			t.Errorf("format(%v) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
