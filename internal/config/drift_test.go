package config

import (
	"strings"
	"testing"
)

// The action's drift inputs set the drift keys; the command input accepts check or drift only.
func TestDriftInputs(t *testing.T) {
	c, err := Load(Sources{Dir: t.TempDir(), Inputs: InputSettings(map[string]string{"command": "drift", "reference": "data/val", "current": "prod/week"})})
	if err != nil {
		t.Fatal(err)
	}
	if c.Command != "drift" || c.Thresholds.Drift.Reference != "data/val" || c.Thresholds.Drift.Current != "prod/week" {
		t.Errorf("command %q, reference %q, current %q", c.Command, c.Thresholds.Drift.Reference, c.Thresholds.Drift.Current)
	}
	_, err = Load(Sources{Dir: t.TempDir(), Inputs: InputSettings(map[string]string{"command": "monitor"})})
	if err == nil || !strings.Contains(err.Error(), "check, drift") {
		t.Errorf("command monitor: error %v, want the allowed values", err)
	}
}

func TestDataAndDriftSettings(t *testing.T) {
	d := Defaults()
	if d.Thresholds.DataIntegrity.NearDuplicateDistance%2 != 0 || d.Thresholds.DataLeakage.Distance%2 != 0 {
		// A pHash sets the bits of the 31 coefficients above the median: hashes of pictures with
		// structure have equal bit counts, so their distances are even and an odd radius wastes a bit.
		t.Errorf("perceptual-hash radii should be even: %d, %d",
			d.Thresholds.DataIntegrity.NearDuplicateDistance, d.Thresholds.DataLeakage.Distance)
	}
	tests := []struct {
		name string
		file string
		want string
	}{
		{"similarity zero", "version: 1\nthresholds:\n  data.integrity: {min_similarity: 0}\n", "thresholds.data.integrity.min_similarity"},
		{"similarity above one", "version: 1\nthresholds:\n  data.leakage: {min_similarity: 1.5}\n", "thresholds.data.leakage.min_similarity"},
		{"bad command in file", "version: 1\ncommand: monitor\n", "command"},
		{"drift p-value", "version: 1\nthresholds:\n  drift: {ks_p_value: 0}\n", "thresholds.drift.ks_p_value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(Sources{File: writeConfig(t, tt.file), FileRequired: true})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one naming %s", err, tt.want)
			}
		})
	}
	c, err := Load(Sources{File: writeConfig(t, "version: 1\ncommand: drift\nthresholds:\n  drift: {reference: ref, current: cur}\n"), FileRequired: true})
	if err != nil || c.Command != "drift" || c.Thresholds.Drift.Current != "cur" {
		t.Errorf("file with command and current: %v", err)
	}
}
