package drops

// View is how an output shows a snapshot: which sites it keeps (Filter),
// which it leaves out while still counting them (Hide), and what a row
// stands for (Group). The live view, the table, NDJSON and saved documents
// all go through Apply, so that the same flags and keys show the same rows
// everywhere.
type View struct {
	Filter Filter
	Hide   []Hide
	Group  Grouping
}

// Apply returns the snapshot as v shows it: filtered (Filtered, which
// recounts the totals), hidden rows taken out but still counted (Hiding),
// then grouped (Grouped).
func (s Snapshot) Apply(v View) Snapshot {
	return s.Filtered(v.Filter).Hiding(v.Hide).Grouped(v.Group)
}
