package main

import (
	"fmt"
	"slices"
	"strings"

	"github.com/airlockproxy/airlock/policy"
)

// leaveToPresets takes out of in the requests a preset allows (client
// housekeeping, catalog metadata, bucket probes): the suggestion includes
// those presets instead of copying that traffic into rules of its own. It
// returns the presets used, in the order they are documented.
func leaveToPresets(in *suggestInput) ([]string, error) {
	rules, err := policy.PresetRules(policy.PresetNames)
	if err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	engine, err := policy.Compile(rules, policy.Options{})
	if err != nil {
		return nil, fmt.Errorf("presets: %w", err)
	}
	used := map[string]int{}
	keep := 0
	for i := range in.reqs {
		req := in.reqs[i]
		if d := engine.Decide(&req); d.Allow && len(d.Rules) > 0 {
			name := strings.TrimPrefix(d.Rules[0], "preset.")
			used[name]++
			in.toPresets = append(in.toPresets, in.reqs[i])
			in.presetOrigins = append(in.presetOrigins, in.origins[i])
			continue
		}
		in.reqs[keep], in.origins[keep] = in.reqs[i], in.origins[i]
		keep++
	}
	in.reqs, in.origins = in.reqs[:keep], in.origins[:keep]
	in.presetCounts = used
	var names []string
	for _, n := range policy.PresetNames {
		if used[n] > 0 {
			names = append(names, n)
		}
	}
	return names, nil
}

// presetSummary is "housekeeping 2, catalog-metadata 1".
func presetSummary(names []string, counts map[string]int) string {
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d", n, counts[n]))
	}
	return strings.Join(parts, ", ")
}

// checkPresetRecords decides the records left to presets with engine (the
// suggestion as printed): each must be allowed by a preset.
func checkPresetRecords(engine *policy.Engine, in *suggestInput) (int, []error) {
	n := 0
	var errs []error
	for i := range in.toPresets {
		req := in.toPresets[i]
		d := engine.Decide(&req)
		if !d.Allow || !slices.ContainsFunc(d.Rules, func(r string) bool { return strings.HasPrefix(r, "preset.") }) {
			errs = append(errs, fmt.Errorf("%s %s %s: not allowed by a preset (%s)", in.presetOrigins[i], req.Protocol, req.Action(), d.Reason))
			continue
		}
		n++
	}
	return n, errs
}
